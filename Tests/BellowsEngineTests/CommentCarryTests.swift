import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// The comments of the CHECKs, foreign keys and indexes Bellows recreates over the new column,
/// and the column's `attoptions` (`n_distinct`), were lost at contract (hostile-d 38).
@Suite(needsDatabase)
struct CommentCarryTests {
    @Test func commentsOfRecreatedConstraintsAndIndexesAndColumnOptionsAreCarried() throws {
        let fixture = try EngineFixture("comment-carry")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE items (id bigint PRIMARY KEY, code text, qty int, CONSTRAINT items_qty_positive CHECK (qty > 0));
            CREATE INDEX items_code_idx ON items (code);
            CREATE UNIQUE INDEX items_code_qty_uq ON items (code, qty);
            ALTER TABLE items ADD CONSTRAINT items_code_qty_key UNIQUE USING INDEX items_code_qty_uq;
            COMMENT ON CONSTRAINT items_qty_positive ON items IS 'negative quantities come from the returns flow, see RET-12';
            COMMENT ON INDEX items_code_idx IS 'used by the nightly export';
            COMMENT ON CONSTRAINT items_code_qty_key ON items IS 'one row per code and quantity';
            ALTER TABLE items ALTER COLUMN code SET (n_distinct = -0.5, n_distinct_inherited = -0.5);
            INSERT INTO items SELECT g, 'c' || g, g FROM generate_series(1, 10) g;
            """)
        let id = "001_rename"
        try fixture.writePlan(id, """
            table: items
            changes:
              - alter: code
                rename_to: sku
              - alter: qty
                rename_to: quantity
            """)
        try fixture.forward(id, through: .contract)
        #expect(try fixture.rows("""
            SELECT conname::text, obj_description(oid, 'pg_constraint') FROM pg_constraint
            WHERE conrelid = 'items'::regclass AND contype IN ('c', 'u') ORDER BY 1
            """) == [["items_quantity_positive", "negative quantities come from the returns flow, see RET-12"],
                     ["items_sku_quantity_key", "one row per code and quantity"]])
        #expect(try fixture.rows("SELECT obj_description('items_sku_idx'::regclass, 'pg_class')") == [["used by the nightly export"]])
        #expect(try fixture.rows("SELECT array_to_string(attoptions, ',') FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'sku'")
                == [["n_distinct=-0.5,n_distinct_inherited=-0.5"]])
    }
}
