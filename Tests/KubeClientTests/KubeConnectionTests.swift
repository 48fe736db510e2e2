import Foundation
import KubeClient
import Testing

/// Where the client's connection settings come from, in the issue's order:
/// explicit keys, then a kubeconfig, then in-cluster.
@Suite struct KubeConnectionTests {
    let dir = makeTempDir()

    func write(_ name: String, _ text: String) throws -> String {
        let p = dir + "/" + name
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    static let kubeconfig = """
    apiVersion: v1
    kind: Config
    current-context: dev
    clusters:
    - name: dev-cluster
      cluster:
        server: https://10.0.0.1:6443/
        certificate-authority-data: \(Data("CA PEM".utf8).base64EncodedString())
    - name: prod-cluster
      cluster:
        server: https://prod:6443
        certificate-authority: certs/ca.crt
        insecure-skip-tls-verify: true
    users:
    - name: dev-user
      user:
        client-certificate-data: \(Data("CERT".utf8).base64EncodedString())
        client-key-data: \(Data("KEY".utf8).base64EncodedString())
    - name: prod-user
      user:
        tokenFile: token
    - name: exec-user
      user:
        exec:
          apiVersion: client.authentication.k8s.io/v1
          command: aws
    contexts:
    - name: dev
      context: {cluster: dev-cluster, user: dev-user}
    - name: prod
      context: {cluster: prod-cluster, user: prod-user}
    - name: eks
      context: {cluster: prod-cluster, user: exec-user}
    """

    @Test func kubeconfigCurrentContextWithInlineData() throws {
        let path = try write("config", Self.kubeconfig)
        let c = try KubeConnectionResolver.resolve(KubeConnectionOptions(kubeconfig: path), environment: [:])
        #expect(c.server == "https://10.0.0.1:6443")
        #expect(c.caData == Data("CA PEM".utf8))
        #expect(c.clientCertData == Data("CERT".utf8))
        #expect(c.clientKeyData == Data("KEY".utf8))
        #expect(c.token == nil && c.tokenFile == nil)
    }

    @Test func otherContextWithRelativePathsAndTokenFile() throws {
        let path = try write("config", Self.kubeconfig)
        let c = try KubeConnectionResolver.resolve(KubeConnectionOptions(kubeconfig: path, context: "prod"), environment: [:])
        #expect(c.caFile == dir + "/certs/ca.crt")
        #expect(c.tokenFile == dir + "/token")
        #expect(c.insecureSkipTLSVerify)
    }

    @Test func execPluginIsOneClearUnsupportedError() throws {
        let path = try write("config", Self.kubeconfig)
        #expect {
            try KubeConnectionResolver.resolve(KubeConnectionOptions(kubeconfig: path, context: "eks"), environment: [:])
        } throws: { e in
            guard case .unsupported(let m) = e as? KubeError else { return false }
            return m.contains("exec credential plugin") && m.contains("aws")
        }
    }

    @Test func orderExplicitThenKUBECONFIGThenHomeThenInCluster() throws {
        let path = try write("config", Self.kubeconfig)
        try FileManager.default.createDirectory(atPath: dir + "/home/.kube", withIntermediateDirectories: true)
        _ = try write("home/.kube/config", Self.kubeconfig.replacingOccurrences(of: "current-context: dev", with: "current-context: prod"))
        let sa = dir + "/sa"
        try FileManager.default.createDirectory(atPath: sa, withIntermediateDirectories: true)
        _ = try write("sa/token", "sa-token\n"); _ = try write("sa/ca.crt", "CA")
        let inCluster = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        var env = inCluster
        env["HOME"] = dir + "/home"; env["KUBECONFIG"] = "/nonexistent:" + path

        let explicit = try KubeConnectionResolver.resolve(KubeConnectionOptions(server: "https://api:6443", tokenFile: "/t"), environment: env, serviceAccountDir: sa)
        #expect(explicit.server == "https://api:6443" && explicit.tokenFile == "/t")
        #expect(try KubeConnectionResolver.resolve(KubeConnectionOptions(), environment: env, serviceAccountDir: sa).server == "https://10.0.0.1:6443")
        env["KUBECONFIG"] = nil
        #expect(try KubeConnectionResolver.resolve(KubeConnectionOptions(), environment: env, serviceAccountDir: sa).server == "https://prod:6443")
        let c = try KubeConnectionResolver.resolve(KubeConnectionOptions(), environment: inCluster, serviceAccountDir: sa)
        #expect(c.server == "https://10.96.0.1:443")
        #expect(c.tokenFile == sa + "/token" && c.caFile == sa + "/ca.crt")
        #expect(throws: KubeError.self) { try KubeConnectionResolver.resolve(KubeConnectionOptions(), environment: [:], serviceAccountDir: sa) }
    }

    @Test func missingContextNamesIt() throws {
        let path = try write("config", Self.kubeconfig)
        #expect { try KubeConnectionResolver.resolve(KubeConnectionOptions(kubeconfig: path, context: "nope"), environment: [:]) }
            throws: { "\($0)".contains("no context \"nope\"") }
    }
}

/// The pure limits: the QPS/burst bucket and the retry schedule.
@Suite struct KubeClientLimitTests {
    @Test func bucketGivesBurstThenQPS() {
        let bucket = TokenBucket(qps: 5, burst: 10)
        let t0 = ContinuousClock.now
        let waits = (0..<12).map { _ in bucket.reserve(now: t0) }
        #expect(waits.prefix(10).allSatisfy { $0 == .zero })
        #expect(waits[10] == .milliseconds(200))
        #expect(waits[11] == .milliseconds(400))
        // A second later five more tokens have come back, minus the two owed.
        #expect(bucket.reserve(now: t0 + .seconds(1)) == .zero)
    }

    @Test func retryAfterIsHonouredAndCapped() {
        let p = RetryPolicy(maxAttempts: 3, maxRetryAfter: .seconds(30))
        #expect(p.delay(afterAttempt: 0, retryAfter: "2") == .seconds(2))
        #expect(p.delay(afterAttempt: 0, retryAfter: "3600") == .seconds(30))
        #expect(p.delay(afterAttempt: 2, retryAfter: "1") == nil, "no attempt left")
    }

    @Test func backoffGrowsWithinJitterBounds() {
        let p = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        // The random source is asked for [0, cap]; the top of the range shows the cap.
        let caps = (0..<6).map { p.delay(afterAttempt: $0, retryAfter: nil, random: { $0.upperBound })! }
        #expect(caps == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(p.delay(afterAttempt: 3, retryAfter: nil, random: { $0.lowerBound }) == .milliseconds(1))
    }
}
