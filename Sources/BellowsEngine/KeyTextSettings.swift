import BellowsPlan
import PGClient

/// The settings under which a keyset walk reads its keys as text. Keys travel between a walk's
/// statements as text (the walk's end, each batch's last key, the saved cursor), and a value's
/// text follows the session's settings: under `DateStyle = 'SQL, DMY'` and
/// `TimeZone = 'Europe/Dublin'` a summer `timestamptz` key prints as `… IST`, which reads back
/// as Israel's time, an hour early: the walk's end read back before the cursor and the walk
/// ended with a third of the table unwalked, and contract's archive missed it (hostile-m 03).
/// Under these values every key's text reads back as the same key: ISO dates with numeric
/// offsets, PostgreSQL's interval style, exact floats. A statement that computes a plan's
/// expressions or copies values runs under the session's own values (`restoreLocally`).
enum KeyTextSettings {
    static var canonical: [(name: String, value: String)] { KeysetSQL.textSettings }

    /// Sets the canonical values for the session; returns its values before, in `canonical`'s order.
    static func enter(_ connection: Connection) throws(PostgresError) -> [String] {
        let names = canonical.map(\.name)
        let row = try connection.query("SELECT " + names.indices.map { "current_setting($\($0 + 1)) AS s\($0)" }.joined(separator: ", "), names).first
        var saved: [String] = []
        for index in names.indices { saved.append(try row?.string("s\(index)") ?? canonical[index].value) }
        _ = try connection.query("SELECT " + names.indices.map { "set_config($\(2 * $0 + 1), $\(2 * $0 + 2), false)" }.joined(separator: ", "),
                                 canonical.flatMap { [$0.name, $0.value] })
        return saved
    }

    /// A batch's last key whose text is its cursor's: the key after the cursor does not read
    /// back as itself, and the walk would read the same batch forever (hostile-m 01, 02).
    static func walkCannotPass(_ key: [String]) -> PostgresError {
        PostgresError(kind: .client, message: "the key after (\(key.joined(separator: ", "))) reads as text as that same key: "
                      + "the key's type has no exact text under the walk's settings, and the walk cannot pass it")
    }

    /// Puts back the session's values `enter` returned.
    static func leave(_ connection: Connection, _ saved: [String]) throws(PostgresError) {
        _ = try connection.query("SELECT " + saved.indices.map { "set_config($\(2 * $0 + 1), $\(2 * $0 + 2), false)" }.joined(separator: ", "),
                                 zip(canonical, saved).flatMap { [$0.name, $1] })
    }

    /// `set_config(name, $n, true)` for each setting, its value the parameter `$from + i`, in
    /// `canonical`'s order, for the rest of a transaction: the session's own values `enter`
    /// returned, or the canonical ones.
    static func restoreLocally(from: Int) -> String {
        canonical.enumerated().map { "set_config('\($0.element.name)', $\(from + $0.offset), true)" }.joined(separator: ", ")
    }
}

extension KeyTextSettings {
    /// Runs `body` (a read of keys as text) under the canonical values, the session's put back after.
    static func reading<T>(_ connection: Connection, _ body: () throws -> T) throws -> T {
        let saved = try enter(connection)
        let value = try body()
        try leave(connection, saved)
        return value
    }
}
