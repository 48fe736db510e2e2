#!/usr/bin/env python3
"""A contract Kubernetes API server for InterLink's client tests and `make bench`.

It speaks real HTTPS (certificates made by the caller with openssl), checks the
bearer token (the current contents of --token-file, read on every request, so
a rotation takes effect at once) or a client certificate signed by --client-ca,
keeps pods and events in memory with resourceVersions, and records every
request it receives. It implements the calls InterLink makes: get/list/watch/
create/patch/delete pods, PATCH pods/{name}/status (merge and strategic merge,
UID precondition through metadata.uid), create/patch events, and for the
virtual-kubelet mode: nodes (create/get/patch, status subresource), leases,
GET configmaps/secrets (seeded through /_control/objects), TokenRequest
(POST serviceaccounts/{name}/token), watches filtered by
fieldSelector=spec.nodeName=..., and with --graceful-delete kubelet-style
graceful deletion: deleting a pod bound to a node with a grace period sets
deletionTimestamp (MODIFIED) and only gracePeriodSeconds=0 removes it.

Faults are injected through /_control/faults (unauthenticated, for tests):
answer a status (429 with Retry-After, 500, 404), drop the connection without
answering, or answer a watch with 410 Gone (HTTP or ERROR event).

Usage: kube-contract-server.py --cert C --key K [--client-ca CA] [--token-file F]
                               [--parent-pid PID]
Prints "READY <port> <pid>" once listening, then daemonises (the caller's
test process must not wait on it); exits when --parent-pid is gone.
"""
import argparse, copy, json, os, re, socket, ssl, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

lock = threading.Condition()
pods = {}          # (ns, name) -> pod object
events = {}        # (ns, name) -> event object
history = []       # (rv:int, type, pod) watch history for pods
state = {"rv": 100, "oldest": 0, "conn": 0}
recorded = []
faults = []        # [{"method","path" (regex), "status", "retryAfter", "drop", "body", "watchError"}]
nodes = {}         # name -> node object (VK mode)
objects = {}       # ("configmaps"|"secrets", ns, name) -> object, seeded through /_control/objects
tokens = []        # TokenRequests answered: {"namespace", "serviceAccount", "token", "audiences", "boundPod"}
args = None


def next_rv():
    state["rv"] += 1
    return state["rv"]


def status_obj(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge(target, patch):
    """Strategic merge for the pod status lists that have a merge key
    (conditions by type); other lists are replaced, as for PodStatus."""
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return merge_patch(target, patch)
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif k == "conditions" and isinstance(v, list) and isinstance(out.get(k), list):
            merged = {c.get("type"): c for c in out[k]}
            for c in v:
                merged[c.get("type")] = merge_patch(merged.get(c.get("type"), {}), c)
            out[k] = list(merged.values())
        else:
            out[k] = strategic_merge(out.get(k), v) if isinstance(v, dict) else copy.deepcopy(v)
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # An answer goes out in several small writes (status line, headers, body):
    # with Nagle's algorithm each keep-alive request waited out the client's
    # delayed ACK, about 20 requests a second in all.
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        with lock:
            state["conn"] += 1
            self.conn_id = state["conn"]

    # -- plumbing -------------------------------------------------------

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, code, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.rec["status"] = code

    def fail(self, code, reason, message, headers=()):
        self.answer(code, status_obj(code, reason, message), headers)

    def peer_cn(self):
        try:
            cert = self.connection.getpeercert()
        except Exception:
            return None
        if not cert:
            return None
        for rdn in cert.get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    return v
        return None

    def authorized(self):
        if self.peer_cn():
            return True
        auth = self.headers.get("Authorization", "")
        if args.token_file and auth.startswith("Bearer "):
            try:
                want = open(args.token_file).read().strip()
            except OSError:
                return False
            return want != "" and auth[len("Bearer "):] == want
        return False

    def handle_any(self, method):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        raw = self.body()
        self.rec = {"method": method, "path": url.path, "query": query, "conn": self.conn_id,
                    "contentType": self.headers.get("Content-Type", ""),
                    "auth": self.headers.get("Authorization", ""), "clientCN": self.peer_cn(),
                    "body": raw.decode("utf-8", "replace"), "time": time.time(), "status": None}
        if url.path.startswith("/_control/"):
            return self.control(method, url.path, raw)
        with lock:
            recorded.append(self.rec)
        if not self.authorized():
            return self.fail(401, "Unauthorized", "Unauthorized")
        fault = self.take_fault(method, url.path, query)
        if fault:
            if fault.get("drop"):
                self.rec["status"] = "dropped"
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if "status" in fault:
                hdrs = [("Retry-After", str(fault["retryAfter"]))] if "retryAfter" in fault else []
                return self.fail(fault["status"], fault.get("reason", "Injected"), fault.get("message", "injected fault"), hdrs)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self.fail(400, "BadRequest", "body is not JSON")
        self.route(method, url.path, query, body)

    def take_fault(self, method, path, query):
        with lock:
            for f in faults:
                if "path" not in f:
                    continue  # watchError faults are taken by watch()
                if f.get("method", method) != method or not re.fullmatch(f["path"], path):
                    continue
                if f.get("watchOnly") and query.get("watch") not in ("1", "true"):
                    continue
                f["count"] = f.get("count", 1) - 1
                if f["count"] <= 0:
                    faults.remove(f)
                return f
        return None

    do_GET = lambda self: self.handle_any("GET")
    do_POST = lambda self: self.handle_any("POST")
    do_PATCH = lambda self: self.handle_any("PATCH")
    do_PUT = lambda self: self.handle_any("PUT")
    do_DELETE = lambda self: self.handle_any("DELETE")

    # -- control ----------------------------------------------------------

    def control(self, method, path, raw):
        body = json.loads(raw) if raw else None
        with lock:
            if path == "/_control/requests":
                return self.answer(200, recorded)
            if path == "/_control/faults":
                faults.extend(body or [])
                return self.answer(200, {"faults": len(faults)})
            if path == "/_control/pods" and method == "POST":
                for p in body or []:
                    self.store_pod(p)
                return self.answer(200, {"rv": state["rv"]})
            if path == "/_control/pods":
                return self.answer(200, list(pods.values()))
            if path == "/_control/events":
                return self.answer(200, [e for k, e in events.items() if k[0] != "lease"])
            if path == "/_control/objects" and method == "POST":
                for o in body or []:
                    md = o.setdefault("metadata", {})
                    md.setdefault("namespace", "default"); md.setdefault("uid", str(uuid.uuid4()))
                    md["resourceVersion"] = str(next_rv())
                    res = {"ConfigMap": "configmaps", "Secret": "secrets"}[o["kind"]]
                    objects[(res, md["namespace"], md["name"])] = o
                return self.answer(200, {"objects": len(objects)})
            if path == "/_control/nodes":
                return self.answer(200, list(nodes.values()))
            if path == "/_control/leases":
                return self.answer(200, [e for k, e in events.items() if k[0] == "lease"])
            if path == "/_control/tokens":
                return self.answer(200, tokens)
            if path == "/_control/compact":
                state["oldest"] = state["rv"] + 1  # every version so far is too old
                return self.answer(200, {"oldest": state["oldest"]})
            if path == "/_control/reset":
                recorded.clear(); faults.clear()
                return self.answer(200, {})
        self.answer(404, {"error": "no such control"})

    def store_pod(self, p, event="ADDED"):
        md = p.setdefault("metadata", {})
        md.setdefault("namespace", "default")
        md.setdefault("uid", str(uuid.uuid4()))
        md.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        p.setdefault("apiVersion", "v1"); p.setdefault("kind", "Pod")
        rv = next_rv()
        md["resourceVersion"] = str(rv)
        pods[(md["namespace"], md["name"])] = p
        history.append((rv, event, copy.deepcopy(p)))
        lock.notify_all()

    # -- the API ------------------------------------------------------------

    def route(self, method, path, query, body):
        lm = re.fullmatch(r"/apis/coordination.k8s.io/v1/namespaces/([^/]+)/leases(?:/([^/]+))?", path)
        if lm:
            return self.route_leases(method, lm.group(1), lm.group(2), body)
        nm = re.fullmatch(r"/api/v1/nodes(?:/([^/]+))?(?:/(status))?", path)
        if nm:
            return self.route_nodes(method, nm.group(1), nm.group(2), body)
        om = re.fullmatch(r"/api/v1/namespaces/([^/]+)/(configmaps|secrets)/([^/]+)", path)
        if om and method == "GET":
            with lock:
                o = objects.get((om.group(2), om.group(1), om.group(3)))
            if o is None:
                return self.fail(404, "NotFound", '%s "%s" not found' % (om.group(2), om.group(3)))
            return self.answer(200, o)
        tm = re.fullmatch(r"/api/v1/namespaces/([^/]+)/serviceaccounts/([^/]+)/token", path)
        if tm and method == "POST":
            spec = (body or {}).get("spec") or {}
            ref = spec.get("boundObjectRef") or {}
            tok = "tok-%s-%s" % (tm.group(2), uuid.uuid4().hex[:12])
            with lock:
                tokens.append({"namespace": tm.group(1), "serviceAccount": tm.group(2), "token": tok,
                               "audiences": spec.get("audiences"), "boundPod": ref.get("name"),
                               "expirationSeconds": spec.get("expirationSeconds")})
            exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + int(spec.get("expirationSeconds") or 3600)))
            return self.answer(201, {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                                     "spec": spec, "status": {"token": tok, "expirationTimestamp": exp}})
        m = re.fullmatch(r"/api/v1(?:/namespaces/([^/]+))?/(pods|events)(?:/([^/]+))?(?:/(status))?", path)
        if not m:
            return self.fail(404, "NotFound", "the server could not find the requested resource")
        ns, resource, name, sub = m.groups()
        if resource == "events":
            return self.route_events(method, ns, name, body)
        with lock:
            if name is None and method == "GET":
                if query.get("watch") in ("1", "true"):
                    return self.watch(ns, query)
                return self.list_pods(ns, query)
            if name is None and method == "POST":
                key = (ns, body["metadata"]["name"])
                if key in pods:
                    return self.fail(409, "AlreadyExists", 'pods "%s" already exists' % key[1])
                body["metadata"]["namespace"] = ns
                self.store_pod(body)
                return self.answer(201, pods[key])
            key = (ns, name)
            pod = pods.get(key)
            if pod is None:
                return self.fail(404, "NotFound", 'pods "%s" not found' % name)
            if method == "GET":
                return self.answer(200, pod)
            if method == "PATCH":
                ctype = self.headers.get("Content-Type", "")
                if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                    return self.fail(415, "UnsupportedMediaType", "unsupported patch type " + ctype)
                want_uid = ((body or {}).get("metadata") or {}).get("uid")
                if want_uid and want_uid != pod["metadata"]["uid"]:
                    return self.fail(409, "Conflict", 'Operation cannot be fulfilled on pods "%s": Precondition failed: UID in precondition: %s, UID in object meta: %s' % (name, want_uid, pod["metadata"]["uid"]))
                merge = strategic_merge if ctype.startswith("application/strategic") else merge_patch
                new = copy.deepcopy(pod)
                if sub == "status":
                    new["status"] = merge(pod.get("status") or {}, (body or {}).get("status") or {})
                else:
                    patch = dict(body or {}); patch.pop("status", None)
                    new = merge(new, patch)
                self.store_pod(new, "MODIFIED")
                self.rec["merged"] = copy.deepcopy(new)
                return self.answer(200, new)
            if method == "DELETE":
                pre = (body or {}).get("preconditions") or {}
                if pre.get("uid") and pre["uid"] != pod["metadata"]["uid"]:
                    return self.fail(409, "Conflict", "Precondition failed: UID in precondition: %s, UID in object meta: %s" % (pre["uid"], pod["metadata"]["uid"]))
                grace = (body or {}).get("gracePeriodSeconds")
                if grace is None:
                    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                if args.graceful_delete and (pod.get("spec") or {}).get("nodeName") and grace != 0:
                    # As the API server does for a pod on a node: mark it, the kubelet deletes it.
                    if "deletionTimestamp" not in pod["metadata"]:
                        new = copy.deepcopy(pod)
                        new["metadata"]["deletionTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + grace))
                        new["metadata"]["deletionGracePeriodSeconds"] = grace
                        self.store_pod(new, "MODIFIED")
                        pod = new
                    return self.answer(200, pod)
                del pods[key]
                history.append((next_rv(), "DELETED", copy.deepcopy(pod)))
                lock.notify_all()
                return self.answer(200, pod)
        self.fail(405, "MethodNotAllowed", "method not allowed")

    def list_pods(self, ns, query):
        items = sorted((p for (pns, _), p in pods.items() if ns is None or pns == ns),
                       key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))
        sel = query.get("fieldSelector", "")
        if sel.startswith("spec.nodeName="):
            items = [p for p in items if (p.get("spec") or {}).get("nodeName") == sel.split("=", 1)[1]]
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or 0) or len(items)
        page = items[start:start + limit]
        meta = {"resourceVersion": str(state["rv"])}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
        self.answer(200, {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": page})

    def watch(self, ns, query):
        # Called with `lock` held.
        since = int(query.get("resourceVersion") or state["rv"])
        if since < state["oldest"]:
            return self.fail(410, "Expired", "too old resource version: %d (%d)" % (since, state["oldest"]))
        fault = None
        for f in list(faults):
            if f.get("watchError"):
                faults.remove(f); fault = f; break
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.rec["status"] = 200

        def chunk(obj):
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        deadline = time.time() + min(float(query.get("timeoutSeconds") or 5), 30)
        bookmarks = query.get("allowWatchBookmarks") == "true"
        sel = query.get("fieldSelector", "")
        node = sel.split("=", 1)[1] if sel.startswith("spec.nodeName=") else None
        try:
            if fault:
                chunk({"type": "ERROR", "object": status_obj(410, "Expired", "too old resource version")})
            else:
                sent_bookmark = False
                # History only grows, in resourceVersion order: each wake-up reads only
                # what was appended since (a rescan of it all per event made 1,000 pods
                # quadratic, under the lock every request needs).
                i = 0
                while i < len(history) and history[i][0] <= since:
                    i += 1
                while time.time() < deadline:
                    while i < len(history):
                        rv, typ, obj = history[i]
                        i += 1
                        if rv > since and (ns is None or obj["metadata"]["namespace"] == ns):
                            if node is None or (obj.get("spec") or {}).get("nodeName") == node:
                                chunk({"type": typ, "object": obj})
                            since = rv
                    if bookmarks and not sent_bookmark:
                        chunk({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                                              "metadata": {"resourceVersion": str(state["rv"])}}})
                        sent_bookmark = True
                    lock.wait(timeout=0.2)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        self.close_connection = True

    def route_leases(self, method, ns, name, body):
        with lock:
            key = ("lease", ns, name or (body or {}).get("metadata", {}).get("name"))
            cur = events.get(key)
            if method == "POST" and name is None:
                if cur is not None:
                    return self.fail(409, "AlreadyExists", 'leases "%s" already exists' % key[2])
                body["metadata"].update(namespace=ns, resourceVersion=str(next_rv()))
                events[key] = body
                return self.answer(201, body)
            if cur is None:
                return self.fail(404, "NotFound", 'leases "%s" not found' % name)
            if method == "GET":
                return self.answer(200, cur)
            if method == "PUT":
                want = (body.get("metadata") or {}).get("resourceVersion")
                if want != cur["metadata"]["resourceVersion"]:
                    return self.fail(409, "Conflict", 'Operation cannot be fulfilled on leases.coordination.k8s.io "%s": the object has been modified; please apply your changes to the latest version and try again' % name)
                body["metadata"].update(namespace=ns, resourceVersion=str(next_rv()))
                events[key] = body
                return self.answer(200, body)
        self.fail(405, "MethodNotAllowed", "method not allowed")

    def route_nodes(self, method, name, sub, body):
        with lock:
            if name is None and method == "POST":
                nname = body["metadata"]["name"]
                if nname in nodes:
                    return self.fail(409, "AlreadyExists", 'nodes "%s" already exists' % nname)
                body["metadata"].update(uid=str(uuid.uuid4()), resourceVersion=str(next_rv()),
                                        creationTimestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                body.setdefault("status", {})
                nodes[nname] = body
                return self.answer(201, body)
            if name is None and method == "GET":
                return self.answer(200, {"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": str(state["rv"])},
                                         "items": list(nodes.values())})
            cur = nodes.get(name)
            if cur is None:
                return self.fail(404, "NotFound", 'nodes "%s" not found' % name)
            if method == "GET":
                return self.answer(200, cur)
            if method == "PATCH":
                ctype = self.headers.get("Content-Type", "")
                merge = strategic_merge if ctype.startswith("application/strategic") else merge_patch
                new = copy.deepcopy(cur)
                if sub == "status":
                    new["status"] = merge(cur.get("status") or {}, (body or {}).get("status") or {})
                else:
                    patch = dict(body or {}); patch.pop("status", None)
                    new = merge(new, patch)
                new["metadata"]["resourceVersion"] = str(next_rv())
                nodes[name] = new
                return self.answer(200, new)
        self.fail(405, "MethodNotAllowed", "method not allowed")

    def route_events(self, method, ns, name, body):
        with lock:
            if method == "POST" and name is None:
                body["metadata"]["namespace"] = ns
                key = (ns, body["metadata"]["name"])
                if key in events:
                    return self.fail(409, "AlreadyExists", "event exists")
                body["metadata"]["resourceVersion"] = str(next_rv())
                events[key] = body
                return self.answer(201, body)
            if method == "PATCH" and name is not None:
                ev = events.get((ns, name))
                if ev is None:
                    return self.fail(404, "NotFound", 'events "%s" not found' % name)
                events[(ns, name)] = merge_patch(ev, body)
                return self.answer(200, events[(ns, name)])
            if method == "GET" and name is None:
                return self.answer(200, {"kind": "EventList", "apiVersion": "v1", "metadata": {},
                                         "items": [e for k, e in events.items() if len(k) == 2 and k[0] == ns]})
        self.fail(405, "MethodNotAllowed", "method not allowed")


def main():
    global args
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca")
    ap.add_argument("--token-file")
    ap.add_argument("--parent-pid", type=int, default=0)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--foreground", action="store_true")
    ap.add_argument("--graceful-delete", action="store_true")
    args = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.load_verify_locations(args.client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL  # token or certificate, either proves who calls
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]

    if not args.foreground:
        r, w = os.pipe()
        if os.fork() > 0:
            os.close(w)
            print(os.read(r, 100).decode().strip(), flush=True)
            os._exit(0)
        os.close(r)
        os.setsid()
        os.write(w, ("READY %d %d\n" % (port, os.getpid())).encode())
        os.close(w)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
    else:
        print("READY %d %d" % (port, os.getpid()), flush=True)

    def watch_parent():
        while args.parent_pid:
            try:
                os.kill(args.parent_pid, 0)
            except OSError:
                os._exit(0)
            time.sleep(1)
    threading.Thread(target=watch_parent, daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
