// A Maildir folder (tmp/, new/, cur/) and its delivery rule: write in tmp/, then rename into new/, so no reader sees half a message.
import Foundation

struct Maildir: Sendable {
    struct Delivery: Sendable {
        var uniqueName: String
        var path: String
    }

    let path: String
    /// The host part of file names.
    let host: String

    private var tmp: String { path + "/tmp" }
    private var new: String { path + "/new" }
    private var cur: String { path + "/cur" }

    /// Creates the folder and its three subfolders if missing, and checks they can be written.
    func prepare() throws(MailCaptureError) {
        for folder in [path, tmp, new, cur] {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw .maildirUnusable(path: path, reason: "cannot create \(folder): \(Self.reason(error))")
            }
            guard access(folder, W_OK | X_OK) == 0 else {
                throw .maildirUnusable(path: path, reason: "\(folder) is not writable")
            }
        }
    }

    /// Blocking: call it off the event loop. `headers` then `content` become one file in new/.
    func deliver(headers: [UInt8], content: [UInt8]) throws(MailCaptureError) -> Delivery {
        // O_EXCL makes a clash with another writer (another process, or a server in this one) visible: then take a new name.
        for _ in 0..<10 {
            let name = MaildirUniqueName.next(host: host)
            let tmpPath = tmp + "/" + name
            let descriptor = open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if descriptor < 0 {
                let code = errno
                if code == EEXIST { continue }
                throw failure("cannot create \(tmpPath)", code)
            }
            do throws(MailCaptureError) {
                try writeAll(headers, to: descriptor, path: tmpPath)
                try writeAll(content, to: descriptor, path: tmpPath)
                // The Maildir rule: the bytes are on disk before the name appears in new/.
                guard fsync(descriptor) == 0 else { throw failure("cannot sync \(tmpPath)", errno) }
            } catch {
                close(descriptor)
                unlink(tmpPath)
                throw error
            }
            close(descriptor)
            let newPath = new + "/" + name
            guard rename(tmpPath, newPath) == 0 else {
                let code = errno
                unlink(tmpPath)
                throw failure("cannot move \(tmpPath) to new/", code)
            }
            return Delivery(uniqueName: name, path: newPath)
        }
        throw .deliveryFailed(path: path, reason: "no unique file name in tmp/ after 10 tries")
    }

    private func writeAll(_ bytes: [UInt8], to descriptor: Int32, path filePath: String) throws(MailCaptureError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                let code = errno
                if code == EINTR { continue }
                throw failure("cannot write \(filePath)", code)
            }
            offset += written
        }
    }

    private func failure(_ what: String, _ code: Int32) -> MailCaptureError {
        .deliveryFailed(path: path, reason: "\(what): \(String(cString: strerror(code)))")
    }

    private static func reason(_ error: any Error) -> String {
        (error as NSError).localizedDescription
    }
}
