"""The states of a billing batch's review (docs/billing.md): named apart so that the command line offers them
without loading the workflow store."""

STATES = ("pending", "released", "rejected")
