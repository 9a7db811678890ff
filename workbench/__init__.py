"""The finance workbench: what people do about pssync's findings, kept outside the warehouse."""
