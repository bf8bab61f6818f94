"""HTTP API (aiohttp): parses requests, calls Temporal or the data layer, maps errors to HTTP."""
