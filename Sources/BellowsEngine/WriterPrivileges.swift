import BellowsPlan
import BellowsSQL
import PGClient

/// A privilege a role that may write the table lacks for something an `up` or `down`
/// expression uses. The dual-write trigger runs as each writer (SECURITY INVOKER), so such a
/// role's every INSERT and UPDATE would fail once the trigger exists (hostile finding 14).
public struct MissingPrivilege: Sendable, Hashable {
    /// The role (may INSERT or UPDATE the table, directly, through PUBLIC or a membership).
    public var role: String
    /// As in GRANT: `USAGE`, `EXECUTE`, `SELECT`, `SELECT ("col")`.
    public var privilege: String
    /// As in GRANT: `SCHEMA util`, `FUNCTION util.norm(text)`, `TABLE other`, `TYPE t`, `SEQUENCE s`.
    public var object: String
    /// What the expression uses that needs it: `function util.norm(text)`, `table other column c`…
    public var used: String

    public init(role: String, privilege: String, object: String, used: String) {
        self.role = role
        self.privilege = privilege
        self.object = object
        self.used = used
    }

    public var grant: String { "GRANT \(privilege) ON \(object) TO \(SQLQuote.identifier(role))" }
}

/// Expand refuses a plan whose `up` or `down` uses a function, operator, type, table or
/// sequence that some role able to write the table may not use. What an expression uses is
/// read from `pg_depend` of a view compiled from its probe (`CREATE VIEW … AS SELECT
/// (expr)::type FROM table LIMIT 0`, in a savepoint rolled back at once); built-in objects
/// (pinned, no dependency recorded) are usable by everyone.
public enum WriterPrivileges {
    /// Every (role, privilege) missing for what the view `$1` uses, for each role other than
    /// superusers and PostgreSQL's predefined `pg_` roles (their members are checked themselves)
    /// that may INSERT or UPDATE the table `$2`, even one column. A name is found through a
    /// schema only with USAGE on it; a function or operator runs only with EXECUTE on it (or
    /// on its function); a type is used with USAGE; another table is read with SELECT on
    /// the columns read (or on any column when none is named), a sequence with USAGE. The
    /// table itself is not read: the trigger computes from the written row.
    static let query = """
        WITH refs AS (
          SELECT DISTINCT d.refclassid, d.refobjid, d.refobjsubid
          FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
          WHERE r.ev_class = $1::regclass AND d.refobjid <> $1::regclass
        ),
        writers AS (
          SELECT r.oid, r.rolname FROM pg_roles r
          WHERE NOT r.rolsuper AND r.rolname !~ '^pg_' AND has_any_column_privilege(r.oid, $2::regclass, 'INSERT, UPDATE')
        ),
        used (namespace, used, privilege, object, kind, oid, sub) AS (
          SELECT p.pronamespace, 'function ' || p.oid::regprocedure::text, 'EXECUTE', 'FUNCTION ' || p.oid::regprocedure::text, 'f', p.oid, 0
          FROM refs JOIN pg_proc p ON refs.refclassid = 'pg_proc'::regclass AND p.oid = refs.refobjid
          UNION ALL
          SELECT o.oprnamespace, 'operator ' || o.oid::regoperator::text, 'EXECUTE', 'FUNCTION ' || o.oprcode::regprocedure::text, 'f', o.oprcode::oid, 0
          FROM refs JOIN pg_operator o ON refs.refclassid = 'pg_operator'::regclass AND o.oid = refs.refobjid
          UNION ALL
          SELECT t.typnamespace, 'type ' || t.oid::regtype::text, 'USAGE', 'TYPE ' || t.oid::regtype::text, 't', t.oid, 0
          FROM refs JOIN pg_type t ON refs.refclassid = 'pg_type'::regclass AND t.oid = refs.refobjid
          UNION ALL
          SELECT c.relnamespace,
                 CASE WHEN c.relkind = 'S' THEN 'sequence ' ELSE 'table ' END || c.oid::regclass::text || coalesce(' column ' || quote_ident(a.attname), ''),
                 CASE WHEN c.relkind = 'S' THEN 'USAGE' ELSE 'SELECT' || coalesce(' (' || quote_ident(a.attname) || ')', '') END,
                 CASE WHEN c.relkind = 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || c.oid::regclass::text,
                 CASE WHEN c.relkind = 'S' THEN 'S' ELSE 'r' END, c.oid, refs.refobjsubid
          FROM refs JOIN pg_class c ON refs.refclassid = 'pg_class'::regclass AND c.oid = refs.refobjid
          LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = refs.refobjsubid AND refs.refobjsubid > 0
          WHERE c.oid <> $2::regclass
            AND (refs.refobjsubid > 0 OR NOT EXISTS (SELECT 1 FROM refs r2 WHERE r2.refobjid = c.oid AND r2.refobjsubid > 0))
        )
        SELECT w.rolname AS role, 'USAGE' AS privilege, 'SCHEMA ' || quote_ident(n.nspname) AS object, u.used
        FROM writers w CROSS JOIN (SELECT DISTINCT namespace, used FROM used) u JOIN pg_namespace n ON n.oid = u.namespace
        WHERE NOT has_schema_privilege(w.oid, u.namespace, 'USAGE')
        UNION ALL
        SELECT w.rolname, u.privilege, u.object, u.used
        FROM writers w CROSS JOIN used u
        WHERE NOT CASE u.kind
          WHEN 'f' THEN has_function_privilege(w.oid, u.oid, 'EXECUTE')
          WHEN 't' THEN has_type_privilege(w.oid, u.oid, 'USAGE')
          WHEN 'S' THEN has_sequence_privilege(w.oid, u.oid, 'USAGE')
          ELSE CASE WHEN u.sub > 0 THEN has_column_privilege(w.oid, u.oid, u.sub::smallint, 'SELECT')
                    ELSE has_any_column_privilege(w.oid, u.oid, 'SELECT') END
        END
        ORDER BY 1, 3, 2, 4
        """

    /// What the view `view` (qualified) uses that a writer of `table` (qualified) may not.
    static func missing(_ connection: Connection, view: String, table: String) throws -> [MissingPrivilege] {
        try connection.query(query, [view, table]).map {
            MissingPrivilege(role: try $0.string("role"), privilege: try $0.string("privilege"),
                             object: try $0.string("object"), used: try $0.string("used"))
        }
    }

    /// The refusal for one expression, or `nil` when every writer may use what it uses. Pure.
    public static func failure(_ missing: [MissingPrivilege], expression: String, location: SourceLocation, table: String) -> GateFailure? {
        guard !missing.isEmpty else { return nil }
        var byRole: [(role: String, lacks: [String])] = []
        var grants: [String] = []
        for item in missing {
            let lack = "\(item.privilege) on \(item.object) (for \(item.used))"
            if let index = byRole.firstIndex(where: { $0.role == item.role }) {
                if !byRole[index].lacks.contains(lack) { byRole[index].lacks.append(lack) }
            } else {
                byRole.append((item.role, [lack]))
            }
            if !grants.contains(item.grant) { grants.append(item.grant) }
        }
        let roles = byRole.map { "role \($0.role) lacks \($0.lacks.joined(separator: ", "))" }.joined(separator: "; ")
        return GateFailure(
            gate: "writer-privileges",
            message: "\(location): the \(expression) runs in the dual-write trigger as each writer of \(table), and \(roles): "
                + "once the trigger exists, every INSERT and UPDATE by \(byRole.count == 1 ? "that role" : "those roles") would fail",
            remedy: "grant what is missing (\(grants.joined(separator: "; "))), or revoke the role's INSERT and UPDATE on \(table), "
                + "or change the expression; nothing was changed")
    }
}
