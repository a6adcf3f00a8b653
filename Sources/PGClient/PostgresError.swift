/// A five-character SQLSTATE code, with names for the ones Bellows reacts to.
public struct SQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The two-character class, e.g. `23` for integrity constraint violations.
    public var errorClass: String { String(rawValue.prefix(2)) }

    public static let uniqueViolation = SQLState("23505")
    public static let notNullViolation = SQLState("23502")
    public static let foreignKeyViolation = SQLState("23503")
    public static let checkViolation = SQLState("23514")
    public static let lockNotAvailable = SQLState("55P03")
    public static let queryCanceled = SQLState("57014")
    public static let deadlockDetected = SQLState("40P01")
    public static let serializationFailure = SQLState("40001")
    public static let undefinedTable = SQLState("42P01")
    public static let undefinedColumn = SQLState("42703")
    public static let datatypeMismatch = SQLState("42804")
    public static let undefinedObject = SQLState("42704")
    public static let duplicateObject = SQLState("42710")
    public static let duplicateColumn = SQLState("42701")
    public static let syntaxError = SQLState("42601")
    public static let activeSQLTransaction = SQLState("25001")
    public static let adminShutdown = SQLState("57P01")
    public static let invalidPassword = SQLState("28P01")

    /// Errors after which retrying the same statement later can succeed.
    public var isTransient: Bool {
        self == .lockNotAvailable || self == .deadlockDetected || self == .serializationFailure
            || errorClass == "08"
    }
}

/// An error from libpq or the server, with every field PostgreSQL reports.
///
/// Connection strings are never part of an error: only the host/port/database that
/// libpq reports, so a password cannot leak through a message.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Could not connect, or the connection broke.
        case connection
        /// The server rejected a statement.
        case server
        /// A value could not be read as the requested type, or a column is missing.
        case decoding
        /// A misuse of the client (e.g. a statement on a closed connection).
        case client
    }

    public var kind: Kind
    public var sqlState: SQLState?
    public var severity: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// 1-based character position in the statement, when the server reports one.
    public var position: Int?
    public var internalPosition: Int?
    public var internalQuery: String?
    public var context: String?
    public var schema: String?
    public var table: String?
    public var column: String?
    public var dataType: String?
    public var constraint: String?
    /// The statement that failed, when known (never contains bound values).
    public var statement: String?

    public init(kind: Kind, message: String, sqlState: SQLState? = nil) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
    }

    /// `ERROR 23505: duplicate key … DETAIL: … HINT: …`
    public var description: String {
        var text = ""
        if let sqlState { text += "\(severity ?? "ERROR") \(sqlState): " }
        text += message
        if let detail { text += "\nDETAIL: \(detail)" }
        if let hint { text += "\nHINT: \(hint)" }
        if let context, kind == .server { text += "\nCONTEXT: \(context)" }
        return text
    }

    /// Line and column (1-based) in `statement` of the reported position.
    public var statementLineColumn: (line: Int, column: Int)? {
        guard let position, let statement else { return nil }
        var line = 1, column = 1, index = 1
        for character in statement {
            if index >= position { break }
            if character == "\n" { line += 1; column = 1 } else { column += 1 }
            index += 1
        }
        return (line, column)
    }
}

/// A NOTICE, WARNING or INFO message the server sent while a statement ran.
public struct PostgresNotice: Sendable, CustomStringConvertible {
    public var severity: String
    public var sqlState: SQLState?
    public var message: String
    public var detail: String?
    public var hint: String?
    public var description: String { "\(severity): \(message)" }
}
