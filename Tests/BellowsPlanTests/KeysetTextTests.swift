import Testing
@testable import BellowsPlan

/// hostile-l 02: a walk's keys travel as text between its statements; a float key's own text
/// follows `extra_float_digits` and may be rounded, so floats are written by `to_char`.
@Suite struct KeysetTextTests {
    @Test func floatKeysAreWrittenWithEveryDigitAndOtherTypesAsTheirText() {
        #expect(KeysetSQL.exactText("\"id\"", type: "double precision")
                == "CASE WHEN \"id\" IN ('NaN', 'Infinity', '-Infinity') THEN \"id\"::text ELSE btrim(to_char(\"id\", '9.9999999999999999EEEE')) END")
        #expect(KeysetSQL.exactText("bellows_k1", type: "real").contains("to_char(bellows_k1, '9.99999999EEEE')"))
        for type in ["bigint", "numeric", "text", "uuid", "timestamp with time zone"] {
            #expect(KeysetSQL.exactText("k", type: type) == "k::text")
        }
    }

    @Test func theWalksStatementsReadAFloatKeyExactly() {
        let keyset = KeysetSQL(table: "\"t\"", key: [ColumnInfo(name: "id", type: "double precision", notNull: true)])
        #expect(keyset.upperBound.contains("to_char(\"id\", '9.9999999999999999EEEE')"))
        #expect(keyset.bound(first: false).contains("to_char(bellows_k1, '9.9999999999999999EEEE')"))
    }
}
