// Every suite that reads or flushes the rig site's one database runs inside this one, in series:
// a flush in one test must not log out a user another test is checking.
import Testing

@Suite(.serialized) struct SiteDatabaseTests {}
