-- GET /status with a JSON array body, as the Go virtual kubelet sends it.
wrk.method = "GET"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["InterLink-Http-Session"] = "GetPodStatus#1"
wrk.body = os.getenv("STATUS_BODY")
