-- POST /pinglink with no body.
wrk.method = "POST"
wrk.headers["InterLink-Http-Session"] = "Ping#1"
