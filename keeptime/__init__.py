"""Cross-cutting pieces shared by the worker, the API and the starter: settings, Temporal client, tracing."""
