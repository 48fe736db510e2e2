import Foundation
import Model

/// The pod templates of the upstream acceptance suite (`interlink-hq/vk-test-set`,
/// `vktestset/templates/*.yaml`), written here from what each one documents and
/// validates. Nothing is fetched at test time. Differences, each on purpose:
/// images are the local test image (the machines running this have no
/// registry), and Python scripts are the same checks in POSIX sh printing the
/// same lines the suite's regexes look for. Names, containers, volumes, env,
/// probes, hooks, restart policies and expected outcomes are the templates'.
///
/// Left out because they need the network by design: 050-limits (pip install
/// numpy), 060-init-container (git clone from GitHub), 070-rclone-bind.
struct UpstreamTemplate: Sendable {
    struct Check: Sendable {
        var pod: String
        var phase: PodPhase
        /// (container, regex) pairs that must match the container's log.
        var logs: [(container: String, regex: String)] = []
    }
    var file: String
    var configMaps: [String: [String: String]] = [:]
    var secrets: [String: [String: String]] = [:]
    var pods: [Pod]
    var checks: [Check]
    var timeout: Double
}

/// The suite's own values (`vktest_config.yaml`): every pod gets these annotations.
enum UpstreamSuite {
    static let namespace = "interlink"
    static let annotations = ["slurm-job.vk.io/flags": "--job-name=test-pod-cfg -t 2800",
                              "slurm-job.vk.io/image-root": "docker://"]

    static func pod(_ name: String, containers: [Container], initContainers: [Container]? = nil, volumes: [Volume]? = nil,
                    labels: [String: String]? = nil, restartPolicy: String = "Never") -> Pod {
        var spec = PodSpec(containers: containers, initContainers: initContainers, volumes: volumes, restartPolicy: restartPolicy)
        spec.nodeName = nil
        return Pod(metadata: ObjectMeta(name: name, namespace: namespace, labels: labels, annotations: annotations), spec: spec)
    }

    static func sh(_ name: String, _ script: String, image: String, env: [EnvVar]? = nil, mounts: [VolumeMount]? = nil) -> Container {
        var c = Container(name: name, image: image, command: ["/bin/sh", "-c"], args: [script], env: env, volumeMounts: mounts)
        c.imagePullPolicy = "IfNotPresent"
        return c
    }

    /// POSIX single-quoting, for generating checks of exact values.
    static func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    // swiftlint:disable function_body_length
    static func templates(uuid u: String, image: String) -> [UpstreamTemplate] {
        var all: [UpstreamTemplate] = []

        all.append(UpstreamTemplate(file: "000-hello-world.yaml",
            pods: [pod("hello-world-\(u)", containers: [sh("hello-world", "echo hello world", image: image)])],
            checks: [.init(pod: "hello-world-\(u)", phase: .succeeded, logs: [("hello-world", "hello world")])], timeout: 10))

        all.append(UpstreamTemplate(file: "010-simple-python.yaml",
            pods: [pod("simple-python-\(u)", containers: [sh("simple-python", """
            echo 'Some special characters, @ò!"£$%&/()=?^é*ç°§'
            echo 'Some unicode, 🤩'
            a=1; b=2; c=$((a + b))
            echo "a + b = $a + $b = $c = c"
            echo 'Completed'
            """, image: image)])],
            checks: [.init(pod: "simple-python-\(u)", phase: .succeeded,
                           logs: [("simple-python", "Completed"), ("simple-python", "special characters, @ò!\"£\\$%&/\\(\\)=\\?\\^é\\*ç°§"),
                                  ("simple-python", "Some unicode, 🤩")])], timeout: 20))

        all.append(UpstreamTemplate(file: "020-python-env.yaml",
            configMaps: ["env-config-\(u)": ["fromConfigMap": "hello configurable world"]],
            secrets: ["env-secret-\(u)": ["fromSecret": "hello secret world"]],
            pods: [pod("python-env-\(u)", containers: [sh("python", "echo \"SIMPLE $SIMPLE\"", image: image,
                                                           env: [EnvVar(name: "SIMPLE", value: "simple")])])],
            checks: [.init(pod: "python-env-\(u)", phase: .succeeded, logs: [("python", "SIMPLE simple")])], timeout: 10))

        all.append(UpstreamTemplate(file: "030-simple-shared-volume.yaml",
            pods: [pod("simple-shared-volume-\(u)", containers: [
                sh("writer", "printf 'Dumped contents' > /shared-vol/dump", image: image, mounts: [VolumeMount(name: "shared-vol", mountPath: "/shared-vol")]),
                sh("reader", "sleep 1; cat /shared-vol/dump; echo; rm /shared-vol/dump 2>/dev/null || echo 'RO mount ok'", image: image,
                   mounts: [VolumeMount(name: "shared-vol", mountPath: "/shared-vol", readOnly: true)]),
            ], volumes: [Volume(name: "shared-vol", emptyDir: { var e = EmptyDirVolumeSource(); e.sizeLimit = "500Mi"; return e }())])],
            checks: [.init(pod: "simple-shared-volume-\(u)", phase: .succeeded,
                           logs: [("reader", "Dumped contents"), ("reader", "RO mount ok")])], timeout: 10))

        let vol1 = VolumeMount(name: "shared-vol1", mountPath: "/shared-vol1"), vol2 = VolumeMount(name: "shared-vol2", mountPath: "/shared-vol2")
        var configC = sh("config", "", image: image, mounts: [vol1, VolumeMount(name: "config-map", mountPath: "/config-map"), vol2])
        configC.command = ["/bin/sh", "/config-map/config-map-script.sh"]; configC.args = nil
        var secretC = sh("secret", "", image: image, mounts: [vol1, VolumeMount(name: "secret", mountPath: "/secrets"), vol2])
        secretC.command = ["/bin/sh", "/secrets/secret-script.sh"]; secretC.args = nil
        all.append(UpstreamTemplate(file: "040-config-volumes.yaml",
            configMaps: ["vol-config-\(u)": ["config-map-script.sh": "echo \"hello configurable world\"\necho \"hello configurable world\" > /shared-vol1/config\necho \"hello configurable world\" > /shared-vol2/config\n"]],
            secrets: ["secret-\(u)": ["secret-script.sh": "echo \"hello secret world\"\necho \"hello configurable world\" > /shared-vol1/secret\necho \"hello configurable world\" > /shared-vol2/secret\n"]],
            pods: [pod("python-vol-\(u)", containers: [configC, secretC], volumes: [
                Volume(name: "config-map", configMap: ConfigMapVolumeSource(name: "vol-config-\(u)", items: [KeyToPath(key: "config-map-script.sh", path: "config-map-script.sh")])),
                Volume(name: "secret", secret: SecretVolumeSource(secretName: "secret-\(u)", items: [KeyToPath(key: "secret-script.sh", path: "secret-script.sh")])),
                Volume(name: "shared-vol1", emptyDir: EmptyDirVolumeSource()), Volume(name: "shared-vol2", emptyDir: EmptyDirVolumeSource()),
            ])],
            checks: [.init(pod: "python-vol-\(u)", phase: .succeeded,
                           logs: [("config", "hello configurable world"), ("secret", "hello secret world")])], timeout: 10))

        let shared = [VolumeMount(name: "shared-data", mountPath: "/shared")]
        all.append(UpstreamTemplate(file: "065-multi-init-containers.yaml",
            pods: [pod("multi-init-\(u)", containers: [sh("main-app", """
            echo "=== Main Container: Verifying init container results ==="
            [ -f /shared/init_complete.flag ] || { echo "ERROR: Init containers did not complete properly"; exit 1; }
            echo "✓ Init complete flag found"
            cat /shared/stage.txt
            stage_count=$(grep -c "init_stage=" /shared/stage.txt)
            [ "$stage_count" = "3" ] || { echo "ERROR: Expected 3 init stages, found $stage_count"; exit 1; }
            echo "✓ All 3 init stages completed"
            grep -q "validation_passed=true" /shared/config.txt && echo "✓ Configuration validated" || { echo "ERROR: Configuration not validated"; exit 1; }
            grep -q '"users": \\["alice", "bob", "charlie"\\]' /shared/data.json && echo "✓ Data file validated" || { echo "ERROR: data"; exit 1; }
            echo "MULTI_INIT_TEST_PASSED"
            """, image: image, mounts: shared)], initContainers: [
                sh("create-config", """
                echo "=== Init Container 1: Creating configuration ==="
                printf 'app_name=test-application\\nversion=1.0.0\\nenvironment=testing\\ndebug=true\\n' > /shared/config.txt
                echo "timestamp=$(date +%s)" >> /shared/config.txt
                echo "init_stage=1" >> /shared/stage.txt
                echo "Config created successfully"
                cat /shared/config.txt
                """, image: image, mounts: shared),
                sh("validate-config", """
                [ -f /shared/config.txt ] || { echo "ERROR: config.txt not found!"; exit 1; }
                for f in app_name= version= environment=; do grep -q "$f" /shared/config.txt || { echo "ERROR: $f missing"; exit 1; }; done
                echo "init_stage=2" >> /shared/stage.txt
                echo "validation_passed=true" >> /shared/config.txt
                echo "Configuration validated successfully"
                """, image: image, mounts: shared),
                sh("prepare-data", """
                printf '{"users": ["alice", "bob", "charlie"], "roles": ["admin", "user", "guest"]}\\n' > /shared/data.json
                echo "init_stage=3" >> /shared/stage.txt
                echo "INIT_COMPLETE" > /shared/init_complete.flag
                echo "All init containers finished successfully"
                """, image: image, mounts: shared),
            ], volumes: [Volume(name: "shared-data", emptyDir: EmptyDirVolumeSource())], labels: ["app": "multi-init-test", "test-id": u])],
            checks: [.init(pod: "multi-init-\(u)", phase: .succeeded, logs: [
                ("create-config", "Config created successfully"), ("validate-config", "Configuration validated successfully"),
                ("prepare-data", "All init containers finished successfully"), ("main-app", "✓ All 3 init stages completed"),
                ("main-app", "✓ Configuration validated"), ("main-app", "✓ Data file validated"), ("main-app", "MULTI_INIT_TEST_PASSED")])],
            timeout: 60))

        let ref = { (name: String, key: String, secret: Bool) -> EnvVarSource in
            secret ? EnvVarSource(secretKeyRef: KeySelector(name: name, key: key)) : EnvVarSource(configMapKeyRef: KeySelector(name: name, key: key))
        }
        let cmName = "test-config-\(u)", secName = "test-secret-\(u)"
        all.append(UpstreamTemplate(file: "080-configmap-secret-env.yaml",
            configMaps: [cmName: ["app-name": "config-test-app", "app-version": "1.0.0", "environment": "test"]],
            secrets: [secName: ["api-key": "secret-api-key-12345", "database-password": "super-secret-password", "token": "bearer-token-xyz789"]],
            pods: [pod("configmap-secret-test-\(u)", containers: [sh("configmap-secret-container", """
            echo "=== ConfigMap Environment Variables ==="
            for v in APP_NAME APP_VERSION ENVIRONMENT; do eval "echo \\"$v: \\${$v:-NOT_SET}\\""; done
            echo "=== Secret Environment Variables ==="
            for v in API_KEY DB_PASSWORD AUTH_TOKEN; do eval "echo \\"$v: \\${$v:-NOT_SET}\\""; done
            echo "=== Test completed ==="
            """, image: image, env: [
                EnvVar(name: "APP_NAME", valueFrom: ref(cmName, "app-name", false)), EnvVar(name: "APP_VERSION", valueFrom: ref(cmName, "app-version", false)),
                EnvVar(name: "ENVIRONMENT", valueFrom: ref(cmName, "environment", false)), EnvVar(name: "API_KEY", valueFrom: ref(secName, "api-key", true)),
                EnvVar(name: "DB_PASSWORD", valueFrom: ref(secName, "database-password", true)), EnvVar(name: "AUTH_TOKEN", valueFrom: ref(secName, "token", true)),
            ])], labels: ["app": "configmap-secret-test", "version": "1.0", "test-id": u])],
            checks: [.init(pod: "configmap-secret-test-\(u)", phase: .succeeded, logs: [
                "APP_NAME: config-test-app", "APP_VERSION: 1.0.0", "ENVIRONMENT: test", "API_KEY: secret-api-key-12345",
                "DB_PASSWORD: super-secret-password", "AUTH_TOKEN: bearer-token-xyz789", "Test completed"].map { ("configmap-secret-container", $0) })],
            timeout: 15))

        var envFromC = sh("env-test-container", """
        for v in DATABASE_URL API_KEY SERVICE_TOKEN CACHE_HOST LOG_LEVEL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION; do
          eval "val=\\${$v}"
          if [ -z "$val" ]; then echo "✗ $v: NOT_SET"; missing=1; continue; fi
          case "$v" in *KEY*|*TOKEN*|*SECRET*) echo "✓ $v: $(printf %s "$val" | cut -c1-4)***";; *) echo "✓ $v: $val";; esac
        done
        [ -z "$missing" ] || { echo "FAILED"; exit 1; }
        echo "envFrom secretRef test completed successfully"
        """, image: image)
        envFromC.envFrom = [EnvFromSource(secretRef: NameReference(name: "app-credentials-\(u)")),
                            EnvFromSource(secretRef: NameReference(name: "aws-credentials-\(u)"))]
        all.append(UpstreamTemplate(file: "085-secret-envfrom.yaml",
            secrets: ["app-credentials-\(u)": ["DATABASE_URL": "postgresql://user:pass@localhost:5432/mydb", "API_KEY": "sk-1234567890abcdef",
                                               "SERVICE_TOKEN": "token-xyz-789", "CACHE_HOST": "redis.example.com:6379", "LOG_LEVEL": "debug"],
                      "aws-credentials-\(u)": ["AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                                               "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_DEFAULT_REGION": "us-west-2"]],
            pods: [pod("secret-envfrom-test-\(u)", containers: [envFromC], labels: ["app": "secret-envfrom-test", "test-id": u])],
            checks: [.init(pod: "secret-envfrom-test-\(u)", phase: .succeeded, logs: [
                "✓ DATABASE_URL: postgresql", "✓ API_KEY: sk-1", "✓ SERVICE_TOKEN: toke", "✓ CACHE_HOST: redis.example.com:6379",
                "✓ LOG_LEVEL: debug", "✓ AWS_ACCESS_KEY_ID: AKIA", "✓ AWS_SECRET_ACCESS_KEY: wJal", "✓ AWS_DEFAULT_REGION: us-west-2",
                "envFrom secretRef test completed successfully"].map { ("env-test-container", $0) })], timeout: 20))

        all.append(UpstreamTemplate(file: "086-secretkeyref-env.yaml",
            secrets: ["secretkeyref-test-\(u)": ["testfile": "hello-from-secret"]],
            pods: [pod("secretkeyref-env-\(u)", containers: [sh("secretkeyref-container", """
            echo "MY_SECRET_VAR=${MY_SECRET_VAR}"
            if [ "${MY_SECRET_VAR}" = "hello-from-secret" ]; then echo "secretKeyRef env test passed"; else echo "secretKeyRef env test failed"; exit 1; fi
            """, image: image, env: [EnvVar(name: "MY_SECRET_VAR", valueFrom: ref("secretkeyref-test-\(u)", "testfile", true))])])],
            checks: [.init(pod: "secretkeyref-env-\(u)", phase: .succeeded, logs: [("secretkeyref-container", "secretKeyRef env test passed")])],
            timeout: 15))

        all.append(probesTemplate(u, image: image))
        all.append(defaultEntrypointTemplate(u, image: image))
        all.append(failingContainersTemplate(u, image: image))
        all.append(envQuotesTemplate(u, image: image))
        all.append(failedJobsTemplate(u, image: image))
        all.append(lifecycleHooksTemplate(u, image: image))
        all.append(projectedVolumesTemplate(u, image: image))
        return all
    }
}
