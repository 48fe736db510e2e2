import Config
import Foundation
@testable import interlink
import Providers
import Testing

@Suite("sidecar command and provider factory")
struct SidecarCommandTests {
    @Test func theSidecarListensWhereSidecarURLAndPortSay() throws {
        var c = InterLinkConfig()
        c.sidecarURL = "http://127.0.0.1"; c.sidecarPort = 4123
        #expect(try Sidecar.listenAddress(c).description == (try Serve.listenAddress({ var s = c; s.interlinkAddress = c.sidecarURL; s.interlinkPort = 4123; return s }())).description)
        c.sidecarURL = "unix:///run/il-plugin.sock"
        #expect(try Sidecar.listenAddress(c).description.contains("/run/il-plugin.sock"))
        c.sidecarURL = "http://"
        do { _ = try Sidecar.listenAddress(c); Issue.record("no host must be refused") } catch {
            #expect(error.path == "SidecarURL", "the error names the key the user wrote: \(error)")
        }
    }

    @Test func aProvidersListBuildsARoutingProviderOverNamedBackends() throws {
        var c = InterLinkConfig()
        c.dataRootFolder = "/tmp/il-factory"
        var plugin = c; plugin.sidecarURL = "unix:///tmp/p.sock"
        c.providers = [BackendConfig(name: "a", kind: .mock, config: c),
                       BackendConfig(name: "b", kind: .remote, isDefault: true, matchLabels: ["x": "y"], config: plugin)]
        let routing = try #require(try ProviderFactory.make(c) as? RoutingProvider)
        #expect(routing.backends.map(\.name) == ["a", "b"])
        #expect(routing.rule.defaultName == "b")
        let remote = try #require(routing.backends[1].provider as? RemoteProvider)
        #expect(remote.endpoint.unixSocketPath == "/tmp/p.sock")
        #expect(remote.name == "b")
    }
}
