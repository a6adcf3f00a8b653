import Testing
@testable import BellowsPlan

/// hostile-l 02: a walk's keys travel as text between its statements; a float key's own text
/// follows `extra_float_digits` and may be rounded, so floats are written by `to_char`.
@Suite struct KeysetTextTests {
    @Test func floatKeysAreWrittenWithEveryDigitAndOtherTypesAsTheirText() {
        #expect(KeysetSQL.exactText("\"id\"", column: ColumnInfo(name: "id", type: "double precision", notNull: true))
                == "CASE WHEN \"id\" IN ('NaN', 'Infinity', '-Infinity') THEN \"id\"::text ELSE btrim(to_char(\"id\", '9.9999999999999999EEEE')) END")
        #expect(KeysetSQL.exactText("bellows_k1", column: ColumnInfo(name: "k", type: "real", notNull: true)).contains("to_char(bellows_k1, '9.99999999EEEE')"))
        // A domain over a float: its base type decides, and the value is cast to it for to_char.
        #expect(KeysetSQL.exactText("k", column: ColumnInfo(name: "k", type: "exact_float", notNull: true, baseType: "double precision"))
                .contains("to_char(k::double precision, '9.9999999999999999EEEE')"))
        #expect(KeysetSQL.exactText("k", column: ColumnInfo(name: "k", type: "email", notNull: true, baseType: "text")) == "k::text")
        for type in ["bigint", "numeric", "text", "uuid", "date", "interval"] {
            #expect(KeysetSQL.exactText("k", column: ColumnInfo(name: "k", type: type, notNull: true)) == "k::text")
        }
    }

    /// A timestamp's text is ISO with its era, in UTC with a numeric offset for a `timestamptz`
    /// (precision or not, through a domain), whatever DateStyle and TimeZone; infinities as text.
    @Test func timestampKeysAreWrittenInUTCWithTheirEra() {
        #expect(KeysetSQL.exactText("k", column: ColumnInfo(name: "k", type: "timestamp(3) with time zone", notNull: true))
                == "CASE WHEN isfinite(k) THEN to_char(k AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US BC') || ' +00' ELSE k::text END")
        #expect(KeysetSQL.exactText("k", column: ColumnInfo(name: "k", type: "timestamp without time zone", notNull: true))
                == "CASE WHEN isfinite(k) THEN to_char(k, 'YYYY-MM-DD HH24:MI:SS.US BC') ELSE k::text END")
        #expect(KeysetSQL.exactText("k", column: ColumnInfo(name: "k", type: "moment", notNull: true, baseType: "timestamp with time zone"))
                .contains("to_char(k::timestamp with time zone AT TIME ZONE 'UTC'"))
    }

    @Test func theWalksStatementsReadAFloatKeyExactly() {
        let keyset = KeysetSQL(table: "\"t\"", key: [ColumnInfo(name: "id", type: "double precision", notNull: true)])
        #expect(keyset.upperBound.contains("to_char(\"id\", '9.9999999999999999EEEE')"))
        #expect(keyset.bound(first: false).contains("to_char(bellows_k1, '9.9999999999999999EEEE')"))
        // The end and its read-back in one statement, one snapshot (hostile-n 06).
        #expect(keyset.checkedUpperBound.hasPrefix("SELECT bellows_m.max_key, EXISTS (SELECT 1 FROM \"t\" WHERE \"id\" = bellows_m.max_key[1]::double precision) AS found FROM (SELECT ARRAY["))
    }
}
