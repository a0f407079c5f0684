"""The ``igor`` client: the command grammar (``grammar``), request building (``commands``), plain renderers
(``render``) and the batch entry point (``main``). The HTTP client itself is ``igor.client``.
"""
