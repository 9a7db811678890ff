"""Status back to the CRM: what finance knows of each Account and Contract, as Salesforce Bulk API 2.0 files."""
