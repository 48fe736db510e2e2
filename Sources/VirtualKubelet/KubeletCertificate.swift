import FoundationEssentials
import Model
import Providers

/// The kubelet endpoint's serving certificate when none is configured: a
/// self-signed EC P-256 pair made once with the `openssl` CLI under
/// `<dir>/kubelet.crt|key` (kept across restarts), for the node's name and
/// InternalIP. The API server does not verify kubelet certificates unless told
/// to (`--kubelet-certificate-authority`); a site that does configures
/// `KubeletCertFile`/`KubeletKeyFile` signed by that CA instead.
public enum KubeletCertificate {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    public static func ensure(directory: String, nodeName: String, ip: String) async throws(Failure) -> (cert: String, key: String) {
        let cert = directory + "/kubelet.crt", key = directory + "/kubelet.key"
        if FileManager.default.fileExists(atPath: cert) && FileManager.default.fileExists(atPath: key) { return (cert, key) }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) }
        catch { throw Failure(description: "cannot create \(directory): \(error)") }
        let isIP = ip.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
        let san = "subjectAltName=DNS:\(nodeName)" + (isIP ? ",IP:\(ip)" : "")
        let args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "3650", "-subj", "/CN=\(nodeName)", "-addext", san]
        let r: ProcessResult
        do { r = try await ProcessRunner.run("openssl", args, timeout: 60) } catch {
            throw Failure(description: "cannot run openssl to make the kubelet certificate (set VirtualKubelet.KubeletCertFile/KeyFile): \(error)")
        }
        guard r.succeeded else { throw Failure(description: "openssl could not make the kubelet certificate: \(r.stderrText.trimmed)") }
        Log.info("made a self-signed kubelet certificate", ["cert": cert, "node": nodeName])
        return (cert, key)
    }
}
