import Foundation
import Model

/// The rest of the upstream templates (see `UpstreamTemplate`).
extension UpstreamSuite {
    /// 090-probes: an HTTP server whose /startup answers 200 after 5 s and /ready after 8 s;
    /// the suite wants the pod Running and each probe's success in the log.
    static func probesTemplate(_ u: String, image: String) -> UpstreamTemplate {
        var c = sh("probe-test", """
        d=$(mktemp -d); date +%s > $d/start; : > $d/log
        cat > $d/h.sh <<EOF
        #!/bin/sh
        read -r method path rest
        el=\\$((\\$(date +%s) - \\$(cat $d/start)))
        ok() { printf 'HTTP/1.0 200 OK\\r\\n\\r\\n%s\\n' "\\$1"; }
        no() { printf 'HTTP/1.0 503 Service Unavailable\\r\\n\\r\\n'; }
        case "\\$path" in
          /startup) if [ \\$el -gt 5 ]; then ok Started; echo "Startup probe: OK (elapsed: \\${el}s)" >> $d/log; else no; echo "Startup probe: Starting" >> $d/log; fi;;
          /healthz) ok Alive; echo "Liveness probe: OK" >> $d/log;;
          /ready) if [ \\$el -gt 8 ]; then ok Ready; echo "Readiness probe: Ready (elapsed: \\${el}s)" >> $d/log; else no; echo "Readiness probe: Not ready" >> $d/log; fi;;
          *) printf 'HTTP/1.0 404 Not Found\\r\\n\\r\\n';;
        esac
        EOF
        chmod +x $d/h.sh
        echo "Starting HTTP server on port 8080"
        echo "Endpoints: /startup, /healthz, /ready"
        tail -f $d/log &
        busybox nc -ll -p 8080 -e $d/h.sh   # busybox: in the image, and on a node for runtime none
        """, image: image)
        c.ports = [ContainerPort(containerPort: 8080, protocol: "TCP")]
        c.startupProbe = Probe(httpGet: HTTPGetAction(path: "/startup", port: .int(8080)), initialDelaySeconds: 5, timeoutSeconds: 1,
                               periodSeconds: 10, successThreshold: 1, failureThreshold: 5)
        c.livenessProbe = Probe(httpGet: HTTPGetAction(path: "/healthz", port: .int(8080)), initialDelaySeconds: 5, timeoutSeconds: 1,
                                periodSeconds: 5, successThreshold: 1, failureThreshold: 3)
        c.readinessProbe = Probe(httpGet: HTTPGetAction(path: "/ready", port: .int(8080)), initialDelaySeconds: 3, timeoutSeconds: 1,
                                 periodSeconds: 3, successThreshold: 1, failureThreshold: 3)
        c.resources = ResourceRequirements(limits: ["memory": "128Mi", "cpu": "200m"], requests: ["memory": "64Mi", "cpu": "100m"])
        return UpstreamTemplate(file: "090-probes.yaml", pods: [pod("probes-test-\(u)", containers: [c])],
            checks: [.init(pod: "probes-test-\(u)", phase: .running, logs: [
                "Starting HTTP server on port 8080", "Startup probe: OK", "Liveness probe: OK", "Readiness probe: Ready"].map { ("probe-test", $0) })],
            timeout: 40)
    }

    /// 095-default-entrypoint: containers without `command` run the image's own entrypoint/cmd.
    static func defaultEntrypointTemplate(_ u: String, image: String) -> UpstreamTemplate {
        func bare(_ name: String, args: [String]? = nil, command: [String]? = nil) -> Container {
            var c = Container(name: name, image: image, command: command, args: args)
            c.imagePullPolicy = "IfNotPresent"
            return c
        }
        return UpstreamTemplate(file: "095-default-entrypoint.yaml", pods: [
            pod("default-entrypoint-\(u)", containers: [bare("busybox-default"),
                bare("echo-with-args", args: ["sh", "-c", "echo 'Args only test passed' && sleep 5"]), bare("custom-app")],
                labels: ["app": "default-entrypoint-test", "test-id": u]),
            pod("default-cmd-workload-\(u)", containers: [bare("python-version", args: ["sh", "-c", "echo 'Python 3.11 (sh stand-in)'; echo 'Default command test completed'"])]),
            pod("entrypoint-only-\(u)", containers: [bare("nginx-version", args: ["nginx version: stand-in"], command: ["echo"])]),
        ], checks: [
            .init(pod: "default-entrypoint-\(u)", phase: .succeeded, logs: [("echo-with-args", "Args only test passed")]),
            .init(pod: "default-cmd-workload-\(u)", phase: .succeeded, logs: [("python-version", "Python 3.11"), ("python-version", "Default command test completed")]),
            .init(pod: "entrypoint-only-\(u)", phase: .succeeded, logs: [("nginx-version", "nginx version")]),
        ], timeout: 30)
    }

    /// 100-failing-containers: five pods that must each end Failed with their logs kept.
    static func failingContainersTemplate(_ u: String, image: String) -> UpstreamTemplate {
        var missing = Container(name: "missing-command", image: image, command: ["nonexistent-command"], args: ["--flag", "value"])
        missing.imagePullPolicy = "IfNotPresent"
        var hog = sh("memory-hog", "echo 'Attempting to allocate memory beyond limit...'; echo 'MemoryError: stand-in'; exit 137", image: image)
        hog.resources = ResourceRequirements(limits: ["memory": "50Mi", "cpu": "100m"], requests: ["memory": "20Mi", "cpu": "50m"])
        let partial = "multi-container-partial-fail-\(u)"   // 65 characters: a valid pod name
        return UpstreamTemplate(file: "100-failing-containers.yaml", pods: [
            pod("exit-code-failure-\(u)", containers: [sh("exit-failure", """
            echo "Starting container that will fail with exit code 42"
            echo "ERROR: Simulated application failure"
            echo "Exit code: 42"
            exit 42
            """, image: image)]),
            pod("command-not-found-\(u)", containers: [missing]),
            pod("runtime-error-\(u)", containers: [sh("python-exception", """
            echo "Starting Python application..."; echo "About to raise an exception"
            echo "RuntimeError: Simulated application error: database connection failed" >&2; exit 1
            """, image: image)]),
            pod(partial, containers: [
                sh("success-container", "echo 'Container 1: Starting successful container'; sleep 2; echo 'Container 1: Completed successfully'", image: image),
                sh("failure-container", "echo 'Container 2: Starting container that will fail'; sleep 1; echo 'Container 2: ERROR - Simulating failure'; exit 1", image: image),
                sh("another-success", "echo 'Container 3: Starting another successful container'; sleep 3; echo 'Container 3: Completed successfully'", image: image),
            ]),
            pod("oom-simulation-\(u)", containers: [hog]),
        ], checks: [
            .init(pod: "exit-code-failure-\(u)", phase: .failed, logs: [("exit-failure", "Simulated application failure"), ("exit-failure", "Exit code: 42")]),
            .init(pod: "command-not-found-\(u)", phase: .failed),
            .init(pod: "runtime-error-\(u)", phase: .failed, logs: [("python-exception", "RuntimeError.*database connection failed")]),
            .init(pod: partial, phase: .failed, logs: [("success-container", "Container 1: Completed successfully"),
                                                       ("failure-container", "Container 2: ERROR - Simulating failure"),
                                                       ("another-success", "Container 3: Completed successfully")]),
            .init(pod: "oom-simulation-\(u)", phase: .failed, logs: [("memory-hog", "Attempting to allocate memory beyond limit")]),
        ], timeout: 45)
    }

    /// 105-env-quotes: env values with every kind of quote arrive byte-exact.
    static func envQuotesTemplate(_ u: String, image: String) -> UpstreamTemplate {
        let values: [(String, String)] = [
            ("SINGLE_QUOTES", "It's a beautiful day"), ("DOUBLE_QUOTES", "He said \"hello world\""),
            ("MIXED_QUOTES", "She said \"It's working!\""), ("JSON_STRING", "{\"name\": \"test\", \"value\": \"123\"}"),
            ("SHELL_COMMAND", "echo 'Hello' && echo \"World\""), ("ESCAPED_DOUBLE", "This is a \\\"quoted\\\" word"),
            ("ESCAPED_SINGLE", "This is a \\'quoted\\' word"), ("BOTH_QUOTE_TYPES", "Both \"double\" and 'single' quotes"),
            ("EMPTY_STRING", ""), ("SPACES_ONLY", "   "), ("QUOTES_ONLY_SINGLE", "'''"), ("QUOTES_ONLY_DOUBLE", "\"\"\""),
            ("PATH_WITH_QUOTES", "/path/to/\"some file\"/directory"), ("SQL_QUERY", "SELECT * FROM users WHERE name = 'John'"),
            ("BACKTICKS", "Run `command` here"), ("NEWLINE_WITH_QUOTES", "Line 1\nLine 2 with 'quotes'\nLine 3"),
            ("SPECIAL_CHARS", "Value with @#$%^&*() and 'quotes'"),
        ]
        // The template's Python compares each value; the same comparison in sh, generated.
        var script = "failed=0\n"
        for (name, value) in values {
            script += "echo '--- Testing: \(name) ---'\n"
            script += "if [ \"${\(name)+set}\" = set ] && [ \"$\(name)\" = \(quoted(value)) ]; then echo '✅ PASS'; else echo '❌ FAIL: \(name)'; failed=1; fi\n"
        }
        script += "case \"$JSON_STRING\" in *'\"name\": \"test\"'*'\"value\": \"123\"'*) echo '✅ JSON parsing successful';; *) failed=1;; esac\n"
        script += "[ $failed = 0 ] || { echo ENV_QUOTES_TEST_FAILED; exit 1; }\necho '✅ All tests PASSED!'\necho ENV_QUOTES_TEST_PASSED\n"
        let c = sh("quote-tester", script, image: image, env: values.map { EnvVar(name: $0.0, value: $0.1) })
        return UpstreamTemplate(file: "105-env-quotes.yaml", pods: [pod("env-quotes-test-\(u)", containers: [c])],
            checks: [.init(pod: "env-quotes-test-\(u)", phase: .succeeded, logs: [
                "ENV_QUOTES_TEST_PASSED", "Testing: SINGLE_QUOTES", "Testing: DOUBLE_QUOTES", "Testing: JSON_STRING",
                "JSON parsing successful", "All tests PASSED"].map { ("quote-tester", $0) })], timeout: 20)
    }

    /// 110-failed-jobs: the pods the Job controller creates (name plus a random suffix), each Failed.
    static func failedJobsTemplate(_ u: String, image: String) -> UpstreamTemplate {
        let s = "-x7k2p"
        return UpstreamTemplate(file: "110-failed-jobs.yaml", pods: [
            pod("job-exit-code-fail-\(u)\(s)", containers: [sh("exit-failure", "echo \"Job started at $(date)\"; echo 'This job is designed to fail'; sleep 2; echo 'ERROR: Application failed with exit code 1'; exit 1", image: image)],
                labels: ["app": "failed-job-test", "test-type": "exit-code", "job-name": "job-exit-code-fail-\(u)"]),
            pod("job-python-exception-\(u)\(s)", containers: [sh("python-crash", "echo 'Job execution started'; sleep 1; echo 'Exception: Simulated job failure: database connection failed' >&2; exit 1", image: image)]),
            pod("job-multi-container-fail-\(u)\(s)", containers: [
                sh("success-sidecar", "echo 'Sidecar: Starting'; sleep 3; echo 'Sidecar: Completed successfully'", image: image),
                sh("main-app", "echo 'Main: Starting'; sleep 1; echo 'Main: Encountered critical error'; exit 1", image: image)]),
            pod("job-with-retries-\(u)\(s)", containers: [sh("retry-failure", "echo \"Attempt started at $(date)\"; sleep 1; echo 'Failing...'; exit 1", image: image)]),
            pod("job-init-container-fail-\(u)\(s)", containers: [sh("main-container", "echo 'Main: This should never run if init fails'; exit 0", image: image)],
                initContainers: [sh("failing-init", "echo 'Init: Starting initialization'; sleep 1; echo 'Init: ERROR - Initialization failed'; exit 1", image: image)]),
        ], checks: [
            .init(pod: "job-exit-code-fail-\(u)\(s)", phase: .failed, logs: [("exit-failure", "ERROR: Application failed with exit code 1")]),
            .init(pod: "job-python-exception-\(u)\(s)", phase: .failed, logs: [("python-crash", "Exception.*database connection failed")]),
            .init(pod: "job-multi-container-fail-\(u)\(s)", phase: .failed, logs: [("success-sidecar", "Sidecar: Completed successfully"),
                                                                                  ("main-app", "Main: Encountered critical error")]),
            .init(pod: "job-with-retries-\(u)\(s)", phase: .failed, logs: [("retry-failure", "Attempt started")]),
            .init(pod: "job-init-container-fail-\(u)\(s)", phase: .failed, logs: [("failing-init", "Init: ERROR - Initialization failed")]),
        ], timeout: 90)
    }

    /// 115-lifecycle-hooks: postStart writes a marker the main process waits for.
    static func lifecycleHooksTemplate(_ u: String, image: String) -> UpstreamTemplate {
        var c = sh("lifecycle-test", """
        echo "Container starting..."
        echo "Waiting for postStart hook marker..."
        for i in $(seq 1 10); do if [ -f /tmp/poststart-marker ]; then echo "postStart hook marker found!"; break; fi; sleep 1; done
        [ -f /tmp/poststart-marker ] || { echo "ERROR: postStart hook marker not found"; exit 1; }
        echo "postStart marker content: $(cat /tmp/poststart-marker)"
        echo "Main container process running..."
        echo "Container will run until terminated (preStop will be triggered on deletion)"
        while true; do sleep 30; done
        """, image: image)
        c.lifecycle = Lifecycle(
            postStart: LifecycleHandler(exec: ExecAction(command: ["/bin/sh", "-c", "echo \"postStart hook executed!\" | tee /tmp/poststart-marker"])),
            preStop: LifecycleHandler(exec: ExecAction(command: ["/bin/sh", "-c", "echo 'preStop hook executed!' >> /tmp/prestop-marker; sleep 1"])))
        c.resources = ResourceRequirements(limits: ["memory": "128Mi", "cpu": "200m"], requests: ["memory": "64Mi", "cpu": "100m"])
        return UpstreamTemplate(file: "115-lifecycle-hooks.yaml", pods: [pod("lifecycle-hooks-test-\(u)", containers: [c])],
            checks: [.init(pod: "lifecycle-hooks-test-\(u)", phase: .running, logs: [
                "Container starting\\.\\.\\.", "postStart hook executed!", "postStart hook marker found!", "Main container process running\\.\\.\\.",
                "Container will run until terminated"].map { ("lifecycle-test", $0) })], timeout: 30)
    }

    /// 120-projected-volumes: a projected ConfigMap (resolved by the VK, not in `configmaps`)
    /// and the service-account ca.crt keep their newlines.
    static func projectedVolumesTemplate(_ u: String, image: String) -> UpstreamTemplate {
        let pem = "-----BEGIN CERTIFICATE-----\nMIICpDCCAYwCCQDU+pQ4pHgSpDANBgkqhkiG9w0BAQsFADAUMRIwEAYDVQQDDAls\nb2NhbGhvc3QwHhcNMjMwMTAxMDAwMDAwWhcNMjQwMTAxMDAwMDAwWjAUMRIwEAYD\nAgMBAAEwDQYJKoZIhvcNAQELBQADggEBAA==\n-----END CERTIFICATE-----\n"
        let c = sh("check-newlines", """
        f=/projected/multiline.txt
        [ "$(sed -n 1p $f)" = "line one" ] && [ "$(sed -n 2p $f)" = "line two" ] && [ "$(sed -n 3p $f)" = "line three" ] || { echo "multiline mismatch: $(cat $f)"; exit 1; }
        echo "projected ConfigMap multiline.txt: newlines preserved correctly"
        p=/projected/cert-like.pem
        [ "$(sed -n 1p $p)" = "-----BEGIN CERTIFICATE-----" ] && [ "$(tail -n 1 $p)" = "-----END CERTIFICATE-----" ] && [ $(wc -l < $p) -gt 2 ] || { echo "PEM mismatch"; exit 1; }
        echo "projected ConfigMap cert-like.pem: PEM format preserved correctly"
        ca=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt
        [ "$(sed -n 1p $ca)" = "-----BEGIN CERTIFICATE-----" ] && [ $(wc -l < $ca) -gt 1 ] || { echo "ca.crt mismatch: $(cat $ca)"; exit 1; }
        echo "service account ca.crt: newlines preserved ($(wc -l < $ca) lines)"
        echo "All projected volume newline tests passed"
        """, image: image, mounts: [VolumeMount(name: "projected-config", mountPath: "/projected")])
        return UpstreamTemplate(file: "120-projected-volumes.yaml",
            configMaps: ["projected-config-\(u)": ["multiline.txt": "line one\nline two\nline three\n", "cert-like.pem": pem]],
            pods: [pod("projected-vol-\(u)", containers: [c], volumes: [
                Volume(name: "projected-config", projected: ProjectedVolumeSource(sources: [VolumeProjection(configMap: ConfigMapVolumeSource(name: "projected-config-\(u)"))]))])],
            checks: [.init(pod: "projected-vol-\(u)", phase: .succeeded, logs: [
                "projected ConfigMap multiline\\.txt: newlines preserved correctly", "projected ConfigMap cert-like\\.pem: PEM format preserved correctly",
                "service account ca\\.crt: newlines preserved", "All projected volume newline tests passed"].map { ("check-newlines", $0) })],
            timeout: 30)
    }
}
