// What the server tells its owner about each message it stored.

public struct StoredMessage: Sendable, Equatable {
    /// The Maildir unique name, also given to the client as "queued as ID".
    public let id: String
    /// The file in new/.
    public let path: String
    /// The envelope sender; "" for the null sender `<>`.
    public let mailFrom: String
    public let recipients: [String]
    /// The client's address, `127.0.0.1:54321` or `[::1]:54321`.
    public let peer: String
    /// Bytes of the message as received (after un-dot-stuffing), not counting the X- headers added in front.
    public let size: Int

    public init(id: String, path: String, mailFrom: String, recipients: [String], peer: String, size: Int) {
        self.id = id
        self.path = path
        self.mailFrom = mailFrom
        self.recipients = recipients
        self.peer = peer
        self.size = size
    }
}
