import BellowsTestSupport
import PGClient
import Testing

/// hostile-m 10: `text[]` values were split by Swift `Character`s, and a `{` followed by a
/// combining mark is one: a key `'\u{301}zz'` came back as the text `{́zz}`, braces included.
@Suite struct PostgresArrayTests {
    static let awkward = ["\u{301}zz", "a\u{301}", "\u{301}", "x\"\u{301}", "\\\u{301}", ",\u{301}", "\u{200D}\u{1F469}", "\u{FE0F}", "NULL\u{301}", "e\u{301}", "\u{E9}"]

    @Test func combiningMarksNextToTheSyntaxDoNotHideIt() {
        #expect(PostgresArray.parse("{\u{301}zz}") == ["\u{301}zz"])
        #expect(PostgresArray.parse("{a,\u{301}b}") == ["a", "\u{301}b"])
        #expect(PostgresArray.parse("{\"x\\\"\u{301}\",\"\\\\\u{301}\"}") == ["x\"\u{301}", "\\\u{301}"])
        #expect(PostgresArray.parse("{NULL,\"NULL\",NULL\u{301}}") == [nil, "NULL", "NULL\u{301}"])
        for value in Self.awkward {
            let parsed = PostgresArray.parse(PostgresArray.literal([value, "b"]))
            #expect(parsed.count == 2 && PostgresArray.sameKey(parsed.compactMap { $0 }, [value, "b"]), "\(value.unicodeScalars.map(\.value))")
        }
    }

    /// Swift's `==` holds `é` and `e` with a combining acute equal; PostgreSQL keeps them apart.
    @Test func sameKeyComparesScalarsNotCanonicalEquivalence() {
        #expect("e\u{301}" == "\u{E9}")
        #expect(!PostgresArray.sameKey(["e\u{301}"], ["\u{E9}"]))
        #expect(PostgresArray.sameKey(["a", "b"], ["a", "b"]) && PostgresArray.sameKey(nil, nil))
        #expect(!PostgresArray.sameKey(["a"], nil) && !PostgresArray.sameKey(["a"], ["a", "b"]))
    }

    /// The server's own text of these values, read back through `stringArray`, is each value.
    @Test(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
    func theServersArraysOfAwkwardTextReadBackExactly() throws {
        let db = try TestDatabase.create("pgarray")
        defer { db.drop() }
        let connection = try db.connect()
        defer { connection.close() }
        for value in Self.awkward {
            let row = try #require(try connection.query("SELECT ARRAY[$1::text, 'b'] AS a, $2::text[] AS back", [value, PostgresArray.literal([value])]).first)
            #expect(PostgresArray.sameKey(try row.stringArray("a"), [value, "b"]), "\(value.unicodeScalars.map(\.value))")
            #expect(PostgresArray.sameKey(try row.stringArray("back"), [value]), "\(value.unicodeScalars.map(\.value))")
        }
    }
}
