import BellowsPlan
import BellowsSQL
import PGClient

/// The plan's table renamed or moved (`ALTER TABLE … RENAME TO`, `SET SCHEMA`) by a migration
/// since expand (hostile-d 25). Bellows addresses the table by the plan's name; the dual-write
/// trigger, which PostgreSQL keeps on the table whatever its name, says where it is now.
/// Rollback follows it there; the forward phases and `status` say what happened.
extension Engine {
    /// The schema and name of the table holding the plan's dual-write trigger, when that is not
    /// the table the plan names (`table`); nil when it is, or when no such trigger exists.
    func movedTable(_ plan: Plan, table: TableName, connection: Connection) throws -> (schema: String, name: String)? {
        guard let row = try connection.query("""
            SELECT n.nspname AS schema, c.relname AS name FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE t.tgname IN ($1, $4) AND t.tgfoid = to_regprocedure($2) AND t.tgparentid = 0
              AND c.oid IS DISTINCT FROM to_regclass($3)
            ORDER BY c.oid LIMIT 1
            """, [TransitionNames.trigger(for: plan), SQLQuote.qualified(schema: "bellows", name: TransitionNames.function(for: plan)) + "()",
                  table.quoted, TransitionNames.legacyTrigger(for: plan)]).first else { return nil }
        return (try row.string("schema"), try row.string("name"))
    }

    /// The refusal of a forward phase (and `status`'s blocker) for a table found elsewhere.
    static func movedTableFailure(_ plan: Plan, from table: TableName, to moved: (schema: String, name: String)) -> GateFailure {
        let now = SQLQuote.qualified(schema: moved.schema, name: moved.name)
        let back = moved.schema == (table.schema ?? moved.schema)
            ? "ALTER TABLE \(now) RENAME TO \(SQLQuote.identifier(table.name))"
            : "ALTER TABLE \(now) SET SCHEMA \(SQLQuote.identifier(table.schema ?? "public"))" + (moved.name == table.name ? "" : ", then RENAME TO \(SQLQuote.identifier(table.name))")
        return GateFailure(
            gate: "table-moved",
            message: "the plan's table \(table) is now \(moved.schema).\(moved.name): renamed or moved since expand (by a migration?), the dual-write trigger with it; Bellows addresses the table by the plan's name",
            remedy: "move it back (`\(back)`) to go on, or `bellows rollback \(plan.id)`, which follows the table, and plan again for its new name")
    }
}
