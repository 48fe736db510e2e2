import CKubeletCert
import FoundationEssentials
import Model
import Support

/// The kubelet endpoint's serving certificate when none is configured: a
/// self-signed EC P-256 pair made with OpenSSL's API under
/// `<dir>/kubelet.crt|key` (kept across restarts), for the node's name and
/// InternalIP. The API server does not verify kubelet certificates unless told
/// to (`--kubelet-certificate-authority`); a site that does configures
/// `KubeletCertFile`/`KubeletKeyFile` signed by that CA instead.
public enum KubeletCertificate {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    public static func ensure(directory: String, nodeName: String, ip: String) throws(Failure) -> (cert: String, key: String) {
        let cert = directory + "/kubelet.crt", key = directory + "/kubelet.key"
        if FileManager.default.fileExists(atPath: cert) && FileManager.default.fileExists(atPath: key) { return (cert, key) }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) }
        catch { throw Failure(description: "cannot create \(directory): \(error)") }
        // Names come from config, not pods; still keep the SAN list to characters it cannot misparse.
        let isIP = !ip.isEmpty && ip.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
        let san = "DNS:\(nodeName)" + (isIP ? ",IP:\(ip)" : "")
        var err = [CChar](repeating: 0, count: 512)
        guard kubelet_selfsigned(nodeName, san, 3650, cert, key, &err, err.count) == 0 else {
            let msg = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw Failure(description: "cannot make the kubelet certificate (set VirtualKubelet.KubeletCertFile/KeyFile): \(msg)")
        }
        Log.info("made a self-signed kubelet certificate", ["cert": cert, "node": nodeName])
        return (cert, key)
    }
}
