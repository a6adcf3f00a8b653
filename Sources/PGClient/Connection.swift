import CLibPQ
import Foundation

/// A value that can be sent as a bind parameter, in PostgreSQL's text format.
public protocol PostgresBindable: Sendable {
    var postgresText: String { get }
}

extension String: PostgresBindable { public var postgresText: String { self } }
extension Substring: PostgresBindable { public var postgresText: String { String(self) } }
extension Int: PostgresBindable { public var postgresText: String { String(self) } }
extension Int64: PostgresBindable { public var postgresText: String { String(self) } }
extension Int32: PostgresBindable { public var postgresText: String { String(self) } }
extension Double: PostgresBindable { public var postgresText: String { String(self) } }
extension Bool: PostgresBindable { public var postgresText: String { self ? "true" : "false" } }

/// One connection to PostgreSQL through libpq.
///
/// Connection settings are libpq's own: a `key=value` conninfo string or a
/// `postgresql://` URI, and whatever is missing comes from the `PG*` environment,
/// `~/.pgpass` and service files, so every SSL mode and auth method libpq supports works.
///
/// A connection is used by one thread at a time; `cancel()` alone may be called from
/// another thread.
public final class Connection: @unchecked Sendable {
    private var handle: OpaquePointer?
    private let noticeBox = NoticeBox()
    private let cancelLock = NSLock()

    /// Connects. `conninfo` nil or empty means "everything from the environment".
    public init(_ conninfo: String? = nil) throws(PostgresError) {
        let info = conninfo ?? ""
        guard let handle = PQconnectdb(info) else {
            throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.redact(message: Self.libpqMessage(handle), conninfo: info)
            PQfinish(handle)
            throw PostgresError(kind: .connection, message: "could not connect to PostgreSQL: \(message)")
        }
        self.handle = handle
        let context = Unmanaged.passUnretained(noticeBox).toOpaque()
        PQsetNoticeReceiver(handle, { context, result in
            guard let context, let result else { return }
            let box = Unmanaged<NoticeBox>.fromOpaque(context).takeUnretainedValue()
            func field(_ code: Int32) -> String? {
                guard let value = PQresultErrorField(result, code) else { return nil }
                return String(cString: value)
            }
            let notice = PostgresNotice(
                severity: field(Int32(UInt8(ascii: "V"))) ?? field(Int32(UInt8(ascii: "S"))) ?? "NOTICE",
                sqlState: field(Int32(UInt8(ascii: "C"))).map(SQLState.init(rawValue:)),
                message: field(Int32(UInt8(ascii: "M"))) ?? "",
                detail: field(Int32(UInt8(ascii: "D"))),
                hint: field(Int32(UInt8(ascii: "H"))))
            box.append(notice)
        }, context)
    }

    deinit { close() }

    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    public var isOpen: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// The server process serving this connection (`pg_backend_pid()`).
    public var backendPID: Int32 { handle.map { PQbackendPID($0) } ?? 0 }

    /// The server version as a number, e.g. 150018 for 15.18.
    public var serverVersion: Int { handle.map { Int(PQserverVersion($0)) } ?? 0 }

    /// The database, user, host and port libpq settled on, without a password.
    public var target: String {
        guard let handle else { return "(closed)" }
        func text(_ p: UnsafeMutablePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
        let host = text(PQhost(handle))
        return "database \"\(text(PQdb(handle)))\" as \"\(text(PQuser(handle)))\" on \(host.hasPrefix("/") ? "socket " + host : host):\(text(PQport(handle)))"
    }

    /// Notices, warnings and infos received since the last call, oldest first.
    public func takeNotices() -> [PostgresNotice] { noticeBox.take() }

    /// Runs one statement with bound parameters (text format; the server infers their types,
    /// so write `$1::bigint` where the type is not obvious).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws(PostgresError) -> QueryResult {
        let handle = try liveHandle()
        let texts = parameters.map { $0?.postgresText }
        let result: OpaquePointer? = withCStrings(texts) { pointers in
            PQexecParams(handle, sql, Int32(pointers.count), nil, pointers, nil, nil, 0)
        }
        return try consume(result, statement: sql)
    }

    /// Runs a statement and returns its rows.
    public func query(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws(PostgresError) -> [Row] {
        try execute(sql, parameters).rows
    }

    /// Runs a script of one or more statements without parameters (the simple query protocol).
    /// Several statements in one call run in one implicit transaction.
    @discardableResult
    public func executeScript(_ sql: String) throws(PostgresError) -> QueryResult {
        let handle = try liveHandle()
        return try consume(PQexec(handle, sql), statement: sql)
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws.
    public func withTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isOpen { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Whether the connection is inside a transaction block.
    public var inTransaction: Bool {
        guard let handle else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// Asks the server to cancel the statement now running on this connection.
    /// Safe to call from another thread.
    public func cancel() {
        cancelLock.lock()
        defer { cancelLock.unlock() }
        guard let handle, let cancel = PQgetCancel(handle) else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &buffer, Int32(buffer.count))
        PQfreeCancel(cancel)
    }

    /// `"name"`, with embedded quotes doubled.
    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The settings a conninfo string or URI gives, as libpq parses it (`PQconninfoParse`), in
    /// libpq's order; nil when libpq cannot parse it. No connection, no environment.
    public static func parameters(of conninfo: String) -> [(key: String, value: String)]? {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var result: [(key: String, value: String)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { result.append((String(cString: keyword), String(cString: value))) }
            option += 1
        }
        return result
    }

    /// A conninfo string or URI with any password replaced by `***`, for messages and logs.
    public static func redact(_ conninfo: String) -> String {
        var text = conninfo
        // URI form: scheme://user:password@host
        if let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") {
            let userInfo = text[scheme.upperBound..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                text.replaceSubrange(text.index(after: colon)..<at, with: "***")
            }
        }
        // key=value form and URI query parameters: password=secret
        let pattern = #"(password\s*=\s*)('([^'\\]|\\.)*'|[^\s&]*)"#
        if let regex = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]) {
            let range = NSRange(text.startIndex..., in: text)
            text = regex.stringByReplacingMatches(in: text, range: range, withTemplate: "$1***")
        }
        return text
    }

    /// A libpq message about `conninfo` with every form of its password removed: libpq quotes
    /// the whole URI in some of its parse errors (`invalid port number`, `end of string reached
    /// when looking for matching "]"`…), so the password is looked for in the connection string
    /// as given (also when it does not parse), raw and percent-decoded, and replaced.
    public static func redact(message: String, conninfo: String) -> String {
        var text = redact(message)
        for secret in passwords(in: conninfo).sorted(by: { $0.count > $1.count }) where !secret.isEmpty {
            text = text.replacingOccurrences(of: secret, with: "***")
        }
        return text
    }

    /// Every string that may be the password of `conninfo`: the userinfo after the first `:` of
    /// a URI (up to its first and up to its last `@`), `password=` values, raw and decoded.
    static func passwords(in conninfo: String) -> Set<String> {
        var found: Set<String> = []
        if let scheme = conninfo.range(of: "://") {
            let rest = conninfo[scheme.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            if let colon = authority.firstIndex(of: ":") {
                let afterColon = authority[authority.index(after: colon)...]
                if let first = afterColon.firstIndex(of: "@") { found.insert(String(afterColon[..<first])) }
                if let last = afterColon.lastIndex(of: "@") { found.insert(String(afterColon[..<last])) }
            }
        }
        let pattern = #"password\s*=\s*('((?:[^'\\]|\\.)*)'|([^\s&]*))"#
        if let regex = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]) {
            let range = NSRange(conninfo.startIndex..., in: conninfo)
            for match in regex.matches(in: conninfo, range: range) {
                for group in [2, 3] {
                    if let r = Range(match.range(at: group), in: conninfo) { found.insert(String(conninfo[r])) }
                }
            }
        }
        for secret in found {
            if let decoded = secret.removingPercentEncoding { found.insert(decoded) }
            found.insert(secret.replacingOccurrences(of: "\\'", with: "'"))
        }
        return found.filter { !$0.isEmpty }
    }

    // MARK: - Internals

    private func liveHandle() throws(PostgresError) -> OpaquePointer {
        guard let handle else { throw PostgresError(kind: .client, message: "the connection is closed") }
        return handle
    }

    private static func libpqMessage(_ handle: OpaquePointer?) -> String {
        guard let handle, let text = PQerrorMessage(handle) else { return "unknown error" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func consume(_ result: OpaquePointer?, statement: String) throws(PostgresError) -> QueryResult {
        guard let result else {
            var error = PostgresError(kind: .connection, message: Self.libpqMessage(handle))
            error.statement = statement
            throw error
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return Self.read(result)
        default:
            throw makeError(result, statement: statement)
        }
    }

    private func makeError(_ result: OpaquePointer, statement: String) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue, let value = PQresultErrorField(result, Int32(ascii)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C").map(SQLState.init(rawValue:))
        let connectionBroken = handle.map { PQstatus($0) != CONNECTION_OK } ?? true
        var message = field("M") ?? ""
        if message.isEmpty {
            message = PQresultErrorMessage(result).map { String(cString: $0) }?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        }
        if message.isEmpty { message = Self.libpqMessage(handle) }
        var error = PostgresError(kind: (sqlState == nil && connectionBroken) ? .connection : .server,
                                  message: message, sqlState: sqlState)
        error.severity = field("V") ?? field("S")
        error.detail = field("D")
        error.hint = field("H")
        error.position = field("P").flatMap { Int($0) }
        error.internalPosition = field("p").flatMap { Int($0) }
        error.internalQuery = field("q")
        error.context = field("W")
        error.schema = field("s")
        error.table = field("t")
        error.column = field("c")
        error.dataType = field("d")
        error.constraint = field("n")
        error.statement = statement
        return error
    }

    private static func read(_ result: OpaquePointer) -> QueryResult {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var names: [String] = []
        names.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            names.append(PQfname(result, Int32(column)).map { String(cString: $0) } ?? "?column?")
        }
        var rows: [Row] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            rows.append(Row(columnNames: names, values: values))
        }
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        let affected = PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0
        return QueryResult(columnNames: names, rows: rows, affectedRows: affected, commandTag: tag)
    }
}

/// Collects notices from libpq's callback; locked because libpq may call back on any thread
/// that runs a statement.
private final class NoticeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var notices: [PostgresNotice] = []

    func append(_ notice: PostgresNotice) {
        lock.lock(); defer { lock.unlock() }
        notices.append(notice)
    }

    func take() -> [PostgresNotice] {
        lock.lock(); defer { lock.unlock() }
        let taken = notices
        notices.removeAll()
        return taken
    }
}

/// Calls `body` with a C array of C strings (NULL entries for nil) that live for the call.
private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var owned: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } }
    defer { for pointer in owned { free(pointer) } }
    let pointers = owned.map { UnsafePointer($0) }
    _ = owned.count
    owned.reserveCapacity(owned.count)
    return body(pointers)
}
