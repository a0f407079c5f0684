"""Tests of the igor client (batch CLI)."""
