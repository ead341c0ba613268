// A message the conversation accepted: its envelope and its bytes, before it is stored.

struct CapturedMessage: Equatable, Sendable {
    /// "" for the null sender `<>`.
    var mailFrom: String
    var recipients: [String]
    var content: [UInt8]
}
