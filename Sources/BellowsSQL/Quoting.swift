import Foundation

/// Quoting of SQL identifiers the way PostgreSQL's `quote_ident` does it, always quoting.
///
/// Bellows quotes every identifier that comes from a plan, even plain lower-case ones, so
/// a reserved word or a mixed-case name can never change the meaning of generated SQL.
public enum SQLQuote {
    /// `"name"`, doubling embedded quotes.
    public static func identifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `"schema"."name"`, or `"name"` when there is no schema.
    public static func qualified(schema: String?, name: String) -> String {
        guard let schema, !schema.isEmpty else { return identifier(name) }
        return identifier(schema) + "." + identifier(name)
    }

    /// A standard-conforming string literal (`'it''s'`). Only for DDL where PostgreSQL accepts
    /// no bind parameters (comments, function bodies); values in DML are always bound.
    public static func literal(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// `text` fit for the rest of a `--` comment line: a line break in it (a name may hold one)
    /// would end the comment and make the rest code (hostile-u 4); it is shown as `\n`, `\r`.
    public static func commentText(_ text: String) -> String {
        guard text.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return text }
        return text.replacingOccurrences(of: "\r\n", with: "\\r\\n").replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
    }
}
