-- GET /healthz: the baseline row (parsing and routing only, no JSON, no auth).
wrk.method = "GET"
