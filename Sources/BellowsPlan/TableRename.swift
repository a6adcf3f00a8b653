import BellowsSQL

/// `rename_table_to:` (docs/plans.md#renaming-a-table): the table gets a new name without an
/// outage. Expand creates a view under the new name over the table (automatically updatable,
/// `security_invoker`), so the new version of the application uses the new name while the old
/// one keeps the old; contract, in one short transaction, drops the view, renames the table and
/// the indexes, constraints and owned sequences whose names embed the old name; rollback drops
/// the view. Pure: what to rename is decided here from a catalog read (`objects`), tested
/// without a database; the engine reads and runs.
public enum TableRename {
    /// One object of the table whose name may embed the table's.
    public struct Object: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable, Codable {
            /// An index that backs no constraint (`ALTER INDEX … RENAME TO`).
            case index
            /// A constraint of the table (`ALTER TABLE … RENAME CONSTRAINT`); one that owns an
            /// index (primary key, UNIQUE, exclusion) renames its index with it.
            case constraint
            /// A sequence owned by one of the table's columns: a serial's, an identity's.
            case sequence
        }
        public var kind: Kind
        public var name: String
        /// For a constraint: the index it owns (renamed with it by PostgreSQL), if any.
        public var ownedIndex: String?

        public init(_ kind: Kind, _ name: String, ownedIndex: String? = nil) {
            self.kind = kind
            self.name = name
            self.ownedIndex = ownedIndex
        }
    }

    /// A rename contract runs, or one it leaves out because the new name is taken.
    public struct Rename: Sendable, Hashable {
        public var kind: Object.Kind
        public var from: String
        public var to: String
    }

    /// What contract renames besides the table: every index, constraint and owned sequence
    /// whose name starts with `old_` (the names PostgreSQL generates: `old_pkey`,
    /// `old_col_key`, `old_col_fkey`, `old_id_seq`, `old_col_idx`, PostgreSQL 18's
    /// `old_col_not_null`…) gets `new_` in its place, fitted to 63 bytes
    /// (`TransitionNames.fitted`). An index a constraint owns is renamed through the
    /// constraint, not twice. `taken`: the relation names of the schema (indexes and sequences
    /// share them with tables and views); a name already taken there, or by another constraint
    /// of the table, is left out (`skipped`) and keeps its old name.
    public static func renames(table old: String, to new: String, objects: [Object], taken: Set<String>)
        -> (renames: [Rename], skipped: [Rename]) {
        let prefix = old + "_"
        let owned = Set(objects.compactMap(\.ownedIndex))
        var relations = taken
        var constraintNames = Set(objects.filter { $0.kind == .constraint }.map(\.name))
        var renames: [Rename] = []
        var skipped: [Rename] = []
        let ordered = objects.filter { !($0.kind == .index && owned.contains($0.name)) }
            .sorted { ($0.kind.rawValue, $0.name) < ($1.kind.rawValue, $1.name) }
        for object in ordered where object.name.hasPrefix(prefix) {
            let target = TransitionNames.fitted(new + "_" + object.name.dropFirst(prefix.count))
            let rename = Rename(kind: object.kind, from: object.name, to: target)
            guard target != object.name else { continue }
            // A constraint's name is unique per table, an index's or sequence's per schema (with
            // the tables and views); a constraint that owns an index needs both.
            let relational = object.kind != .constraint || object.ownedIndex != nil
            if (object.kind == .constraint && constraintNames.contains(target)) || (relational && relations.contains(target)) {
                skipped.append(rename)
                continue
            }
            if object.kind == .constraint { constraintNames.remove(object.name); constraintNames.insert(target) }
            if relational {
                relations.remove(object.ownedIndex ?? object.name)
                relations.insert(target)
            }
            renames.append(rename)
        }
        return (renames, skipped)
    }

    /// The table's objects as the catalog knows them (what `render` shows): its indexes and
    /// constraints, and its owned sequences (offline, from `migrations/`: only those a
    /// `nextval` default names, a serial's, not an identity's). Contract reads them from
    /// `pg_catalog` under its lock.
    public static func objects(of table: TableInfo) -> [Object] {
        let constraintIndexes = Set(table.indexes.filter(\.isConstraint).map(\.name))
        var objects: [Object] = table.constraints.map { constraint in
            let owns = ["p", "u", "x"].contains(constraint.kind) && constraintIndexes.contains(constraint.name)
            return Object(.constraint, constraint.name, ownedIndex: owns ? constraint.name : nil)
        }
        let owned = Set(objects.compactMap(\.ownedIndex))
        objects += table.indexes.filter { !owned.contains($0.name) }.map { Object(.index, $0.name) }
        var sequences: [String] = []
        for column in table.columns {
            // The live catalog (`render -d`, what expand stored) knows every owned sequence, an
            // identity's included; offline, a serial's `nextval` default names it.
            if let owned = table.details?.columns[column.name]?.ownedSequence, let name = TableName(parsing: owned),
               (name.schema ?? table.schema) == table.schema {
                sequences.append(name.name)
            } else if let expression = column.defaultExpression, let sequence = sequenceName(inNextval: expression) {
                sequences.append(sequence)
            }
        }
        for sequence in sequences where !objects.contains(Object(.sequence, sequence)) { objects.append(Object(.sequence, sequence)) }
        return objects
    }

    /// `seq` of `nextval('seq'::regclass)` (unqualified, as `pg_get_expr` prints a sequence of
    /// the table's schema).
    static func sequenceName(inNextval expression: String) -> String? {
        let tokens = Lexer.tokenize(expression).filter(\.isSignificant)
        guard tokens.count >= 4, tokens[0].identifierValue?.lowercased() == "nextval", tokens[1].isSymbol("("),
              let literal = tokens[2].stringValue else { return nil }
        guard let name = TableName(parsing: literal), name.schema == nil else { return nil }
        return name.name
    }

    /// Why `new` cannot be the table's new name, nil when it can: it is the name itself (no
    /// quotes, no schema: the table stays in its schema), at most 63 bytes, not Bellows'
    /// reserved prefix, and not the table's present name.
    public static func problem(newName new: String, table: TableName?) -> String? {
        if new.contains(".") || new.contains("\"") {
            return "'rename_table_to' is the table's new name as it is (no quotes, no schema: the table stays in its schema), found '\(new)'"
        }
        if new.utf8.count > TransitionNames.maximumIdentifierBytes {
            return "'rename_table_to' is \(new.utf8.count) bytes long; PostgreSQL names have at most \(TransitionNames.maximumIdentifierBytes)"
        }
        if new.hasPrefix(TransitionNames.reservedPrefix) {
            return "'rename_table_to' starts with \(TransitionNames.reservedPrefix), which Bellows reserves for its own objects"
        }
        if let table, table.name == new { return "'rename_table_to' is the table's present name" }
        return nil
    }

    // MARK: SQL

    /// Expand's statements: the view under the new name, its comment and its grants.
    /// `SELECT *` is expanded by PostgreSQL when the view is created: the view has the table's
    /// columns as they are at expand, in their order. An `INSERT` through it that leaves a
    /// column out gets the table's default (an identity's or serial's next value included): an
    /// automatically updatable view applies the base table's defaults to the columns it is not
    /// given, so the view needs none of its own.
    public static func expand(schema: String, table: String, to new: String, plan: String) -> [PhaseStatement] {
        let view = SQLQuote.qualified(schema: schema, name: new)
        let base = SQLQuote.qualified(schema: schema, name: table)
        let comment = "Bellows plan \(plan) renames \(schema).\(table) to \(new): until its contract, \(new) is this view over the table; "
            + "contract drops the view and renames the table"
        return [
            PhaseStatement(.transaction, "the new name, for the new version: a view over the table (automatically updatable: SELECT, INSERT, UPDATE, DELETE, "
                               + "RETURNING, ON CONFLICT (columns); until contract not COPY, TRUNCATE, ON CONFLICT ON CONSTRAINT or DDL: docs/plans.md#renaming-a-table-rename_table_to)",
                           "CREATE VIEW \(view) WITH (security_invoker = true) AS\n  SELECT * FROM \(base)"),
            PhaseStatement(.transaction, "say whose view it is", "COMMENT ON VIEW \(view) IS \(SQLQuote.literal(comment))"),
            PhaseStatement(.transaction, "every role may use the view as far as the table allows it (security_invoker: the table's privileges and policies apply)",
                           "GRANT SELECT, INSERT, UPDATE, DELETE ON \(view) TO PUBLIC"),
        ]
    }

    /// Contract's statements: the view goes, the table takes its name, then `renames`.
    /// `offline`: decided from `migrations/` (`render` without `-d`), which does not show an
    /// identity's sequence; the purpose says that contract decides again from `pg_catalog`.
    public static func contract(schema: String, table: String, to new: String, renames: [Rename], offline: Bool = false) -> [PhaseStatement] {
        let renamed = SQLQuote.qualified(schema: schema, name: new)
        var statements = [
            PhaseStatement(.transaction, "the view under the new name goes", dropView(schema: schema, name: new).sql),
            PhaseStatement(.transaction, "the table takes its new name" + (offline
                ? " (contract decides the renames below again from pg_catalog under its lock: an identity's sequence too, which migrations/ does not show; render -d shows them)" : ""),
                           "ALTER TABLE \(SQLQuote.qualified(schema: schema, name: table)) RENAME TO \(SQLQuote.identifier(new))"),
        ]
        for rename in renames {
            let purpose = "a name that embeds the old table name follows it"
            switch rename.kind {
            case .constraint:
                statements.append(PhaseStatement(.transaction, purpose,
                    "ALTER TABLE \(renamed) RENAME CONSTRAINT \(SQLQuote.identifier(rename.from)) TO \(SQLQuote.identifier(rename.to))"))
            case .index:
                statements.append(PhaseStatement(.transaction, purpose,
                    "ALTER INDEX \(SQLQuote.qualified(schema: schema, name: rename.from)) RENAME TO \(SQLQuote.identifier(rename.to))"))
            case .sequence:
                statements.append(PhaseStatement(.transaction, purpose,
                    "ALTER SEQUENCE \(SQLQuote.qualified(schema: schema, name: rename.from)) RENAME TO \(SQLQuote.identifier(rename.to))"))
            }
        }
        return statements
    }

    /// Rollback's statement (and contract's first): the view under the new name goes.
    public static func dropView(schema: String, name new: String) -> PhaseStatement {
        PhaseStatement(.transaction, "the view under the new name goes", "DROP VIEW IF EXISTS \(SQLQuote.qualified(schema: schema, name: new))")
    }

    /// The table as contract leaves it: the new name, its objects renamed.
    public static func applied(to table: TableInfo, newName new: String) -> TableInfo {
        var result = table
        let decided = renames(table: table.name, to: new, objects: objects(of: table), taken: []).renames
        var names: [String: String] = [:]
        for rename in decided { names[rename.from] = rename.to }
        result.name = new
        for i in result.indexes.indices { result.indexes[i].name = names[result.indexes[i].name] ?? result.indexes[i].name }
        for i in result.constraints.indices { result.constraints[i].name = names[result.constraints[i].name] ?? result.constraints[i].name }
        for i in result.columns.indices {
            guard let expression = result.columns[i].defaultExpression, let sequence = sequenceName(inNextval: expression),
                  let renamed = names[sequence] else { continue }
            let plain = renamed.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
                && !(renamed.first?.isNumber ?? true)
            result.columns[i].defaultExpression = "nextval(\(SQLQuote.literal(plain ? renamed : SQLQuote.identifier(renamed)))::regclass)"
        }
        return result
    }
}
