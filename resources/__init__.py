"""pssync."""
