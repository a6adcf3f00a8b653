/// One row of a result, read by column name with typed accessors.
///
/// Values arrive in PostgreSQL's text format; accessors parse them and throw a
/// `.decoding` error naming the column when a value is NULL or malformed.
public struct Row: Sendable {
    public let columnNames: [String]
    public let values: [String?]

    public init(columnNames: [String], values: [String?]) {
        self.columnNames = columnNames
        self.values = values
    }

    private func index(of name: String) throws(PostgresError) -> Int {
        guard let index = columnNames.firstIndex(of: name) else {
            throw PostgresError(kind: .decoding, message: "no column \"\(name)\" in result (columns: \(columnNames.joined(separator: ", ")))")
        }
        return index
    }

    /// The raw text value, nil for SQL NULL.
    public func raw(_ name: String) throws(PostgresError) -> String? { values[try index(of: name)] }

    public func optionalString(_ name: String) throws(PostgresError) -> String? { try raw(name) }

    public func string(_ name: String) throws(PostgresError) -> String {
        guard let value = try raw(name) else { throw Self.nullError(name) }
        return value
    }

    public func optionalInt(_ name: String) throws(PostgresError) -> Int? {
        guard let value = try raw(name) else { return nil }
        guard let number = Int(value) else {
            throw PostgresError(kind: .decoding, message: "column \"\(name)\": \"\(value)\" is not an integer")
        }
        return number
    }

    public func int(_ name: String) throws(PostgresError) -> Int {
        guard let value = try optionalInt(name) else { throw Self.nullError(name) }
        return value
    }

    public func optionalDouble(_ name: String) throws(PostgresError) -> Double? {
        guard let value = try raw(name) else { return nil }
        guard let number = Double(value) else {
            throw PostgresError(kind: .decoding, message: "column \"\(name)\": \"\(value)\" is not a number")
        }
        return number
    }

    public func double(_ name: String) throws(PostgresError) -> Double {
        guard let value = try optionalDouble(name) else { throw Self.nullError(name) }
        return value
    }

    public func optionalBool(_ name: String) throws(PostgresError) -> Bool? {
        guard let value = try raw(name) else { return nil }
        switch value {
        case "t", "true", "on", "1": return true
        case "f", "false", "off", "0": return false
        default: throw PostgresError(kind: .decoding, message: "column \"\(name)\": \"\(value)\" is not a boolean")
        }
    }

    public func bool(_ name: String) throws(PostgresError) -> Bool {
        guard let value = try optionalBool(name) else { throw Self.nullError(name) }
        return value
    }

    /// A `text[]` value in PostgreSQL's array text format, e.g. `{a,"b c",NULL}`.
    public func stringArray(_ name: String) throws(PostgresError) -> [String] {
        guard let value = try raw(name) else { return [] }
        return PostgresArray.parse(value).compactMap { $0 }
    }

    private static func nullError(_ name: String) -> PostgresError {
        PostgresError(kind: .decoding, message: "column \"\(name)\" is NULL where a value was expected")
    }
}

/// Parsing of one-dimensional arrays in PostgreSQL's text output format.
/// Both work on Unicode scalars, not on Swift's `Character`s: a `{`, `,`, `"` or `\\` followed
/// by a combining mark is one `Character`, and a key `'\u{301}zz'` read back as `{́zz}` with
/// its braces (hostile-m 10: the walk's end became another key and contract archived half the table).
public enum PostgresArray {
    public static func parse(_ text: String) -> [String?] {
        var scalars = Substring(text).unicodeScalars[...]
        guard scalars.first == "{", scalars.last == "}" else { return [text] }
        scalars = scalars.dropFirst().dropLast()
        var items: [String?] = []
        var current = String.UnicodeScalarView()
        var quoted = false, wasQuoted = false, escaped = false
        func item() -> String? {
            let value = String(current)
            return !wasQuoted && value.unicodeScalars.elementsEqual("NULL".unicodeScalars) ? nil : value
        }
        for c in scalars {
            if escaped { current.append(c); escaped = false; continue }
            if c == "\\" && quoted { escaped = true; continue }
            if c == "\"" { quoted.toggle(); wasQuoted = true; continue }
            if c == "," && !quoted {
                items.append(item())
                current = String.UnicodeScalarView(); wasQuoted = false
                continue
            }
            current.append(c)
        }
        if !scalars.isEmpty { items.append(item()) }
        return items
    }

    /// Renders values as an array literal suitable for a `text[]` bind parameter.
    public static func literal(_ values: [String?]) -> String {
        "{" + values.map { value -> String in
            guard let value else { return "NULL" }
            var quoted = String.UnicodeScalarView()
            for c in value.unicodeScalars {
                if c == "\\" || c == "\"" { quoted.append("\\") }
                quoted.append(c)
            }
            return "\"" + String(quoted) + "\""
        }.joined(separator: ",") + "}"
    }

    /// Whether two keys read as text are the same text, scalar by scalar: Swift's `==` holds
    /// canonically equivalent strings equal (`é` and `e` with a combining acute), which
    /// PostgreSQL keeps apart as two keys.
    public static func sameKey(_ a: [String]?, _ b: [String]?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (a?, b?): return a.count == b.count && zip(a, b).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
        default: return false
        }
    }
}

/// What a statement returned: its rows and, for DML, how many rows it touched.
public struct QueryResult: Sendable {
    public var columnNames: [String]
    public var rows: [Row]
    public var affectedRows: Int
    public var commandTag: String

    public var first: Row? { rows.first }
}
