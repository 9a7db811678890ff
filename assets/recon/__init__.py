"""Reconciliation: approved hours against billing lines, rates and payroll, per as-of date."""
