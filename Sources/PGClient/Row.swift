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
public enum PostgresArray {
    public static func parse(_ text: String) -> [String?] {
        var chars = Substring(text)
        guard chars.first == "{", chars.last == "}" else { return [text] }
        chars = chars.dropFirst().dropLast()
        var items: [String?] = []
        var current = ""
        var quoted = false, wasQuoted = false, escaped = false
        for c in chars {
            if escaped { current.append(c); escaped = false; continue }
            if c == "\\" && quoted { escaped = true; continue }
            if c == "\"" { quoted.toggle(); wasQuoted = true; continue }
            if c == "," && !quoted {
                items.append(!wasQuoted && current == "NULL" ? nil : current)
                current = ""; wasQuoted = false
                continue
            }
            current.append(c)
        }
        if !chars.isEmpty { items.append(!wasQuoted && current == "NULL" ? nil : current) }
        return items
    }

    /// Renders values as an array literal suitable for a `text[]` bind parameter.
    public static func literal(_ values: [String?]) -> String {
        "{" + values.map { value -> String in
            guard let value else { return "NULL" }
            return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ",") + "}"
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
