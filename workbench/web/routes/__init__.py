"""The workbench's routers: one per kind of thing (users and sign-in, exceptions, batches, figures), each with its
pages and its part of the JSON API."""
