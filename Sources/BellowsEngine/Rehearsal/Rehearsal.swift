import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

public struct RehearsalOptions: Sendable {
    /// An existing scratch database (conninfo); nil starts a private cluster.
    public var database: String?
    /// Use a database that holds other objects.
    public var allowNonEmpty = false
    /// Keep the private cluster (and print how to reach it).
    public var keep = false
    /// Rows per table for the generator.
    public var rows = 2000
    /// An SQL file that fills the tables instead of the generator.
    public var seedFile: String?
    /// Backfill batch size (small batches exercise resumption and interleaving).
    public var batchSize: Int? = 250
    /// Also roll back from expanded, backfilled and verified, each on a fresh copy.
    public var rollbacks = true
    /// Plans to rehearse (paths or references); empty = every plan of the project.
    public var plans: [String] = []
    /// Lock timeout Bellows uses; traffic statements slower than this count as violations.
    public var lockTimeoutMilliseconds = 2000
    /// The server binaries of the private cluster (`--pg-bindir`); nil: `$BELLOWS_PG_BINDIR`, then
    /// the machine's (see `ScratchCluster.findBinDirectory`).
    public var pgBinDirectory: String?
    /// A live database (conninfo) whose schema the scratch database starts from, read in a
    /// read-only transaction (`--from`); nil: `migrations/` builds it.
    public var from: String?
    /// With `from`: rows copied per table (and the rows they reference) instead of synthetic ones.
    public var sample: Int?
    /// Also rehearse the schema feature scenarios (`SchemaFeatures`) in a database of their own
    /// (needs the private cluster).
    public var schemaFeatures = false
    /// How long the simulated writers run on their own around each forward phase: before the
    /// phase starts (after switching old/new writers) and after it returns. The phase itself
    /// always runs under traffic; shorter pauses make a rehearsal of many plans faster (tests).
    public var trafficLeadSeconds = 0.2
    public var trafficTailSeconds = 0.3

    public init() {}
}

/// The migrations could not all be applied (a violation says why): no plan is rehearsed.
struct RehearsalStopped: Error {}

/// One phase of one plan as the rehearsal ran it.
public struct RehearsalStep: Sendable {
    public var plan: String
    public var phase: String
    public var seconds: Double
    public var rows: Int?
    public var traffic: TrafficStats
    public var outcome: String
}

public struct RehearsalReport: Sendable {
    public var steps: [RehearsalStep] = []
    public var violations: [String] = []
    /// What the rehearsal could not prove but is no violation (a migration without rollback file).
    public var warnings: [String] = []
    public var tableRows: [String: Int] = [:]
    /// Each migration applied, with its tests (`migrations/tests/`).
    public var migrations: [MigrationRehearsalResult] = []
    public var keptConninfo: String?
    public var passed: Bool { violations.isEmpty }
}

/// `bellows rehearse`: every plan run end to end on a scratch PostgreSQL under simulated
/// traffic, then rolled back from each phase on fresh copies, checking the invariants that
/// matter: no row lost, every value as up/down define, the schema as intended after contract
/// and identical to before after rollback, no traffic statement failed or waited too long.
public final class Rehearsal: @unchecked Sendable {
    let project: Project
    let options: RehearsalOptions
    let report: Reporter
    var result = RehearsalReport()
    private var hints: [String: Set<String>] = [:]
    /// Value hints and domains of the columns the generator and the writers fill.
    private let values = ValueDomains()
    /// The row numbers of every plan's simulated writes (never restarting per plan).
    private let rowNumbers = RowNumbers()
    /// The generator as it filled the tables (with the variants CHECK constraints made it pick).
    private var seeded: DataGenerator?
    /// Schema feature scenarios by plan id: their facts are compared, or their refusal expected.
    private var scenarios: [String: SchemaFeatureScenario] = [:]
    /// The plans rehearsed, in order (a plan's writers also satisfy the foreign keys later
    /// plans add).
    private var rehearsed: [Plan] = []

    public init(project: Project, options: RehearsalOptions, reporter: @escaping Reporter = { _ in }) {
        self.project = project
        self.options = options
        self.report = reporter
    }

    public func run() throws -> RehearsalReport {
        try project.requireExists()
        // The plans, validated, in order (dependencies come earlier by number).
        let loaded = project.loadPlans()
        if loaded.findings.hasErrors { throw BellowsError.planInvalid(loaded.findings.filter { $0.severity == .error }) }
        var plans = loaded.plans.sorted { $0.id < $1.id }
        if !options.plans.isEmpty {
            let wanted = try Set(options.plans.map { try project.resolvePlan($0).id })
            plans = plans.filter { wanted.contains($0.id) }
        }

        hints = uniqueHints(plans)
        var cluster: ScratchCluster?
        let adminConninfo: String
        let database: String
        if let given = options.database {
            adminConninfo = given
            database = try BellowsError.connect(given).query("SELECT current_database() AS d").first?.string("d") ?? "postgres"
        } else {
            report(.info("starting a scratch PostgreSQL cluster…"))
            let started = try ScratchCluster.start(binDirectory: options.pgBinDirectory)
            cluster = started
            adminConninfo = started.conninfo()
            let admin = try Connection(adminConninfo)
            try admin.execute("CREATE DATABASE bellows_rehearsal")
            admin.close()
            database = "bellows_rehearsal"
            report(.info("cluster ready (\(started.serverVersionText), \(started.binDirectory)): \(started.conninfo(database: database))"))
        }
        if let cluster, options.keep {
            cluster.keepRunning = true
            result.keptConninfo = cluster.conninfo(database: database)
        }
        defer { if let cluster, !options.keep { cluster.destroy() } }
        let main = options.database ?? cluster?.conninfo(database: database) ?? adminConninfo
        try rehearse(plans, conninfo: main, database: database, cluster: cluster)
        if options.schemaFeatures {
            guard let cluster else { throw BellowsError.usage("--schema-features needs the private cluster: leave out --database") }
            try rehearseSchemaFeatures(cluster)
        }
        return result
    }

    /// The schema feature scenarios, as their own project in their own database of `cluster`.
    func rehearseSchemaFeatures(_ cluster: ScratchCluster) throws {
        report(.info("── schema features: \(SchemaFeatures.scenarios.count) scenarios ──"))
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-schema-features-\(UUID().uuidString)").path
        try SchemaFeatures.writeProject(root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let database = "bellows_schema_features"
        try withAdmin(cluster) { admin in
            try admin.execute("DROP DATABASE IF EXISTS \(database)")
            try admin.execute("CREATE DATABASE \(database)")
        }
        var featureOptions = options
        featureOptions.plans = []
        featureOptions.seedFile = root + "/seed.sql"
        featureOptions.schemaFeatures = false
        featureOptions.from = nil
        featureOptions.sample = nil
        let features = Rehearsal(project: Project(root: root), options: featureOptions, reporter: report)
        features.scenarios = Dictionary(uniqueKeysWithValues: SchemaFeatures.scenarios.map { ($0.id, $0) })
        let loaded = features.project.loadPlans()
        if loaded.findings.hasErrors { throw BellowsError.planInvalid(loaded.findings.filter { $0.severity == .error }) }
        try features.rehearse(loaded.plans.sorted { $0.id < $1.id }, conninfo: cluster.conninfo(database: database), database: database, cluster: cluster)
        result.steps += features.result.steps
        result.violations += features.result.violations
        try withAdmin(cluster) { admin in try admin.execute("DROP DATABASE IF EXISTS \(database)") }
    }

    /// Migrations, data, then each plan forward under traffic and rolled back from each phase
    /// on copies of `database` (when the cluster is ours).
    func rehearse(_ plans: [Plan], conninfo main: String, database: String, cluster: ScratchCluster?) throws {
        var plans = plans
        rehearsed = plans
        let connection = try Connection(main)
        defer { connection.close() }
        try ServerVersion.requireSupported(connection)
        try refuseForeignContent(connection)
        try connection.execute("CREATE SCHEMA IF NOT EXISTS bellows_rehearsal")
        try StateStore.ensure(connection)
        try ValueDomains.ensure(connection)

        let beforeBaseline = plans.filter { project.contractedBeforeBaseline().contains($0.id) }.map(\.id)
        if !beforeBaseline.isEmpty {
            report(.info("contracted before the baseline, not rehearsed: \(beforeBaseline.joined(separator: ", "))"))
            plans.removeAll { beforeBaseline.contains($0.id) }
        }

        // Schema and data.
        var started = Date()
        var source: SourceCopy?
        defer { source?.close() }
        if let from = options.from {
            let copy = try SourceCopy(conninfo: from)
            source = copy
            let phases = try copy.planPhases()
            let inFlight = phases.filter { $0.value.expanding || [.expanded, .backfilled, .verified].contains($0.value.phase) }.keys.sorted()
            guard inFlight.isEmpty else {
                throw BellowsError.usage("plans are between expand and contract on the \(copy.name): \(inFlight.joined(separator: ", ")); their transition objects would be copied without their state. Rehearse --from before expand or after contract.")
            }
            let contracted = plans.filter { phases[$0.id]?.phase == .contracted }.map(\.id)
            if !contracted.isEmpty {
                report(.info("contracted on the source, not rehearsed: \(contracted.joined(separator: ", "))"))
                plans.removeAll { contracted.contains($0.id) }
            }
            report(.info("copying the schema of the \(copy.name) (read-only)…"))
            let (recorded, roles) = try copy.copySchema(into: connection, pgBinDirectory: options.pgBinDirectory, createsRoles: options.database == nil)
            if !roles.isEmpty {
                report(.info("roles the source's schema names (its policies' TO), created NOLOGIN in the scratch cluster: \(roles.joined(separator: ", "))"))
            }
            report(.info("schema copied; the source's ledger records \(recorded) migration(s)"))
            let publications = try copy.publications()
            if !publications.isEmpty {
                result.warnings.append("the source's publications are not copied (\(publications.joined(separator: ", "))): what expand refuses because of them "
                    + "(a table published whole, a column list naming a column a plan replaces) is not rehearsed; `bellows check --database` against the source says it")
            }
            result.steps.append(RehearsalStep(plan: "-", phase: "copy schema", seconds: Date().timeIntervalSince(started), rows: nil, traffic: TrafficStats(), outcome: "ok"))
            started = Date()
        }
        do {
            try applyMigrations(connection, conninfo: main)
        } catch is RehearsalStopped {
            // A migration did not apply again after its rollback: the schema the plans need is not there.
            return
        }
        try values.addHints(plans, connection: connection)
        try values.addProjectHints(ProjectConfig.rehearsalValues(root: project.root), plans: plans, connection: connection)
        result.steps.append(RehearsalStep(plan: "-", phase: "migrate", seconds: Date().timeIntervalSince(started), rows: nil, traffic: TrafficStats(), outcome: "ok"))
        started = Date()
        if let source, let sample = options.sample {
            report(.info("copying up to \(sample) rows per table from the \(source.name), with the rows they reference…"))
            result.tableRows = try source.copySample(perTable: sample, into: connection)
        } else if let seed = options.seedFile {
            report(.info("seeding from \(seed)"))
            guard let text = try? String(contentsOfFile: seed, encoding: .utf8) else { throw BellowsError.usage("cannot read seed file \(seed)") }
            try connection.executeScript(text)
        } else {
            report(.info("generating \(options.rows) rows per table…"))
            var generator = try DataGenerator.inspect(connection, uniqueHints: hints, values: values)
            // The seed satisfies the multi-column UNIQUEs and FOREIGN KEYs plans will add, as it
            // does `unique: true`, and the CHECKs listing a column's values they add.
            var changedByEarlierPlans: [String: Set<String>] = [:]
            for plan in PlanChain.ordered(plans) {
                let key = try ValueDomains.tableKey(plan.table.value, connection: connection)
                defer { changedByEarlierPlans[key, default: []].formUnion(plan.changes.flatMap { $0.existingColumns + $0.finalColumns }) }
                for reference in try Self.plannedReferences(plan, connection: connection) {
                    generator.addReference(reference, to: key)
                }
                if let index = generator.tables.firstIndex(where: { $0.name == key }) {
                    // Not a CHECK over a column an earlier plan changes: that plan's `up` may be
                    // what makes the rows satisfy it, and must run on them as they are.
                    let earlier = changedByEarlierPlans[key, default: []]
                    generator.tables[index].plannedChecks += PlannedCheck.of(plan, existing: Set(generator.tables[index].columns.map(\.name)))
                        .filter { $0.overExisting != nil && $0.columns.isDisjoint(with: earlier) }
                    for (column, list) in Self.plannedValueLists(plan) {
                        guard let c = generator.tables[index].columns.firstIndex(where: { $0.name == column }),
                              generator.tables[index].columns[c].values == nil, !generator.tables[index].columns[c].unique else { continue }
                        generator.tables[index].columns[c].values = .domain(try values.store(list, connection: connection))
                    }
                }
                for columns in Self.plannedCompositeUnique(plan) {
                    guard let index = generator.tables.firstIndex(where: { $0.name == key }),
                          columns.allSatisfy({ name in generator.tables[index].columns.contains { $0.name == name } }) else { continue }
                    generator.tables[index].compositeUnique.append(columns)
                    if let last = columns.last, let c = generator.tables[index].columns.firstIndex(where: { $0.name == last }),
                       generator.tables[index].columns[c].foreignKey == nil {
                        generator.tables[index].columns[c].unique = true
                    }
                }
            }
            result.tableRows = try generator.fill(connection, rows: options.rows, report: report)
            result.warnings += generator.seedWarnings
            seeded = generator
        }
        result.steps.append(RehearsalStep(plan: "-", phase: "seed", seconds: Date().timeIntervalSince(started),
                                          rows: result.tableRows.values.reduce(0, +), traffic: TrafficStats(), outcome: "ok"))

        for plan in plans {
            let scenario = scenarios[plan.id]
            report(.info("── plan \(plan.id) on \(plan.table.value)" + (scenario.map { ": \($0.feature)" } ?? "") + " ──"))
            if let scenario, let words = scenario.refusal {
                try refusal(plan, scenario: scenario, words: words, conninfo: main)
                continue
            }
            var base: String?
            if options.rollbacks, let cluster {
                // A copy of the database as it is before this plan, for the rollback runs.
                connection.close()
                base = "bellows_rehearsal_base"
                try withAdmin(cluster) { admin in
                    try admin.execute("DROP DATABASE IF EXISTS bellows_rehearsal_base")
                    try admin.execute("CREATE DATABASE bellows_rehearsal_base TEMPLATE \(database)")
                }
            }
            let facts = try scenario.map { _ in try withConnection(main) { try SchemaFacts.take($0, table: plan.table.value) } }
            try forward(plan, conninfo: main)
            if let scenario, let facts { try compareFacts(plan, scenario: scenario, before: facts, conninfo: main) }
            if let base, let cluster {
                for stopAfter: PhaseCommand in [.expand, .backfill, .verify] {
                    try withAdmin(cluster) { admin in
                        try admin.execute("DROP DATABASE IF EXISTS bellows_rehearsal_copy")
                        try admin.execute("CREATE DATABASE bellows_rehearsal_copy TEMPLATE \(base)")
                    }
                    try rollback(plan, after: stopAfter, conninfo: cluster.conninfo(database: "bellows_rehearsal_copy"))
                }
                try withAdmin(cluster) { admin in
                    try admin.execute("DROP DATABASE IF EXISTS bellows_rehearsal_copy")
                    try admin.execute("DROP DATABASE IF EXISTS \(base)")
                }
            }
        }
    }

    func withConnection<T>(_ conninfo: String, _ body: (Connection) throws -> T) throws -> T {
        let connection = try Connection(conninfo)
        defer { connection.close() }
        return try body(connection)
    }

    /// After contract, the scenario's table has every fact it had, with the plan's renames
    /// applied, and nothing else; its check returns 0.
    func compareFacts(_ plan: Plan, scenario: SchemaFeatureScenario, before: SchemaFacts, conninfo: String) throws {
        guard try withConnection(conninfo, { try StateStore.plan($0, id: plan.id)?.phase }) == .contracted else { return }
        let renames = Dictionary(plan.changes.compactMap { change -> (String, String)? in
            if case .alter(let c) = change, let new = c.renameTo { return (c.column.value, new.value) }
            return nil
        }, uniquingKeysWith: { first, _ in first })
        let after = try withConnection(conninfo) { try SchemaFacts.take($0, table: plan.table.value) }
        let difference = before.renamed(renames).difference(to: after.normalized)
        if !difference.isEmpty {
            result.violations.append("\(plan.id): \(scenario.feature): not intact after contract (- lost, + unexpected):\n    "
                                     + difference.joined(separator: "\n    "))
        }
        if let check = scenario.check {
            let value = try withConnection(conninfo) { try $0.query("SELECT (\(check))::text AS v").first?.optionalString("v") }
            if value != "0" { result.violations.append("\(plan.id): \(scenario.feature): after contract, \(check) returned \(value ?? "NULL"), not 0") }
        }
        report(.info("   \(plan.id): \(scenario.feature): " + (difference.isEmpty ? "intact after contract" : "NOT intact")))
    }

    /// A scenario that must be refused: expand refuses, naming what it must, and the table
    /// and the plan's state are as before.
    func refusal(_ plan: Plan, scenario: SchemaFeatureScenario, words: [String], conninfo: String) throws {
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let before = try CatalogSnapshot.take(connection, table: plan.table.value)
        let started = Date()
        var outcome = "refused"
        do {
            try engine(conninfo: conninfo, plan: plan).run(.expand, plan: plan.file)
            outcome = "expanded"
            result.violations.append("\(plan.id): \(scenario.feature): expand went through; it must refuse")
        } catch let error as BellowsError {
            let message = error.description
            if case .refused = error, words.allSatisfy(message.contains) {
                report(.info("   \(plan.id): refused before any change, as it must: " + (message.split(separator: "\n").dropFirst().first.map(String.init) ?? message)))
            } else {
                outcome = "failed"
                result.violations.append("\(plan.id): \(scenario.feature): expand must refuse naming \(words.joined(separator: ", ")); it said: \(message)")
            }
        }
        let after = try CatalogSnapshot.take(connection, table: plan.table.value)
        if before != after {
            outcome = "changed"
            result.violations.append("\(plan.id): \(scenario.feature): the refused expand changed the table:\n    " + before.difference(to: after).joined(separator: "\n    "))
        }
        let phase = try StateStore.plan(connection, id: plan.id)?.phase
        if let phase, phase != .planned {
            result.violations.append("\(plan.id): \(scenario.feature): the refused plan is \(phase.rawValue), not planned")
        }
        result.steps.append(RehearsalStep(plan: plan.id, phase: "expand (must refuse)", seconds: Date().timeIntervalSince(started),
                                          rows: nil, traffic: TrafficStats(), outcome: outcome))
    }

    /// A plan's multi-column `add_foreign_key` changes, as the generator names tables.
    static func plannedReferences(_ plan: Plan, connection: Connection) throws -> [DataGenerator.Reference] {
        try plan.constraintChanges.compactMap { change -> DataGenerator.Reference? in
            guard case .foreignKey(let columns, let references, _, _) = change, columns.count > 1,
                  references.columns.count == columns.count else { return nil }
            var parent = references.tableName
            if parent.schema == nil { parent = TableName(schema: plan.table.value.schema, name: parent.name) }
            return DataGenerator.Reference(columns: columns.map(\.value), parent: try ValueDomains.tableKey(parent, connection: connection),
                                           parentColumns: references.columns.map(\.value))
        }
    }

    /// The values the CHECKs a plan adds list for a column (`add_check` and `check:`), by
    /// column: the seed takes them where the table says nothing else of the column.
    static func plannedValueLists(_ plan: Plan) -> [(column: String, values: [String])] {
        plannedCheckConditions(plan).compactMap { column, text in
            let tokens = Lexer.tokenize(text).filter(\.isSignificant).filter { !$0.isSymbol("(") }
            guard let name = column ?? tokens.first?.identifierValue, let list = CheckValueList.values(in: text, column: name) else { return nil }
            return (name, list)
        }
    }

    /// The conditions of the CHECKs a plan adds, with the column of a column's `check:` (an
    /// added column's too: its writers' values, corpus-k 01). Not a renamed column's: its check
    /// names it by its new name, which the seeded table lacks.
    static func plannedCheckConditions(_ plan: Plan) -> [(column: String?, text: String)] {
        PlannedCheck.declared(plan).filter { !$0.renamed }.map { ($0.column, $0.expression.text) }
    }

    /// The column lists of a plan's multi-column `add_unique` changes (final names).
    static func plannedCompositeUnique(_ plan: Plan) -> [[String]] {
        plan.constraintChanges.compactMap { change -> [String]? in
            guard case .unique(let columns, _, _) = change, columns.count > 1 else { return nil }
            return columns.map(\.value)
        }
    }

    /// Columns plans will make unique in place (`unique: true`, a one-column `add_unique`): the
    /// synthetic data must already satisfy that. A column an earlier plan renames is hinted
    /// under the name the seeded table has, and under its name when the plan runs; one an
    /// earlier plan adds is not in the seed.
    func uniqueHints(_ plans: [Plan]) -> [String: Set<String>] {
        var hints: [String: Set<String>] = [:]
        let ordered = PlanChain.ordered(plans)
        for (position, plan) in ordered.enumerated() {
            let table = "\(plan.table.value.schema ?? "public").\(plan.table.value.name)"
            var unique: [String] = plan.changes.compactMap { change in
                guard case .alter(let c) = change, c.attributes.unique?.value == true else { return nil }
                return c.column.value
            }
            // hostile corpus-k 03: a one-column `add_unique` was left to repeats in the seed.
            for change in plan.constraintChanges {
                if case .unique(let columns, _, _) = change, columns.count == 1, let only = columns.first { unique.append(only.value) }
            }
            for name in unique {
                // Under its name when the plan runs too: its writers (and a later plan's) must not
                // draw it from the values rows already hold.
                hints[table, default: []].insert(name)
                var column: String? = name
                for earlier in ordered[..<position].reversed() where earlier.table.value == plan.table.value {
                    for change in earlier.changes where column != nil && change.finalColumns.contains(column ?? "") {
                        if case .alter(let e) = change { column = e.column.value } else { column = nil }
                    }
                }
                if let column { hints[table, default: []].insert(column) }
            }
        }
        return hints
    }

    func withAdmin(_ cluster: ScratchCluster, _ body: (Connection) throws -> Void) throws {
        let admin = try Connection(cluster.conninfo())
        defer { admin.close() }
        try body(admin)
    }

    /// A given database must hold nothing but what a rehearsal created.
    func refuseForeignContent(_ connection: Connection) throws {
        guard options.database != nil, !options.allowNonEmpty else { return }
        let marker = try connection.query("SELECT to_regclass('bellows_rehearsal.marker') IS NOT NULL AS ours").first?.bool("ours") ?? false
        let objects = try connection.query("""
            SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'bellows', 'bellows_rehearsal') AND n.nspname NOT LIKE 'pg_toast%'
            """).first?.int("n") ?? 0
        if objects > 0 && !marker {
            throw BellowsError.usage("the database holds \(objects) relation(s) the rehearsal did not create; rehearse on an empty scratch database, or pass --allow-nonempty if you really mean it")
        }
        if objects > 0 {
            throw BellowsError.usage("the database holds a previous rehearsal; drop and recreate it, or pass --allow-nonempty")
        }
        try connection.execute("CREATE SCHEMA IF NOT EXISTS bellows_rehearsal")
        try connection.execute("CREATE TABLE IF NOT EXISTS bellows_rehearsal.marker (created_at timestamptz DEFAULT now())")
    }

    func engine(conninfo: String, plan: Plan) -> Engine {
        var engineOptions = EngineOptions(conninfo: conninfo, actor: "bellows-rehearsal")
        engineOptions.confirmations = Set(plan.gates.map(\.name.value))
        engineOptions.batchSize = options.batchSize
        engineOptions.lockTimeoutMilliseconds = options.lockTimeoutMilliseconds
        // A rehearsal is no release: nobody is notified, no pre-contract check runs.
        engineOptions.runHooks = false
        return Engine(project: project, options: engineOptions, reporter: report)
    }

    /// expand → backfill → verify → contract under traffic; then the invariants.
    func forward(_ plan: Plan, conninfo: String) throws {
        if plan.moveColumns != nil { return try forwardMove(plan, conninfo: conninfo) }
        let connection = try Connection(conninfo)
        defer { connection.close() }
        guard let table = try CatalogReader.table(connection, plan.table.value) else {
            result.violations.append("\(plan.table.location): table \(plan.table.value) does not exist after the migrations")
            return
        }
        let compiled = TransitionCompiler.compile(plan, table: table)
        guard var transition = compiled.transition else {
            result.violations += compiled.findings.map(\.description)
            return
        }
        transition.volatileFunctions = try CatalogReader.volatileFunctions(connection, transition.calledFunctions)
        let inspected = try DataGenerator.inspect(connection, uniqueHints: hints, values: values)
        guard var genTable = inspected.table(transition.quotedTable) ?? inspected.tables.first(where: { $0.oid == (try? connection.query("SELECT to_regclass($1)::oid::bigint AS o", [transition.quotedTable]).first?.int("o")) }) else {
            result.violations.append("\(plan.table.location): cannot inspect \(transition.quotedTable)")
            return
        }
        // The variants the fill settled on (a CHECK rejected the first), then the values the
        // existing rows hold for every column no hint covers.
        if let filled = seeded?.table(genTable.name) {
            for index in genTable.columns.indices {
                guard let column = filled.columns.first(where: { $0.name == genTable.columns[index].name }) else { continue }
                genTable.columns[index].variant = column.variant
            }
        }
        try values.deriveFromRows(genTable, connection: connection)
        genTable = values.apply(to: genTable)
        // A multi-column `add_foreign_key` is enforced from expand on (NOT VALID checks new
        // rows): every writer writes whole tuples of the referenced table. So do the writers of
        // the plans before it on the table (as the seed does), whose rows it must validate — a
        // column such a plan adds included (the new writer writes it with the same row number).
        let created = Set(transition.allTargets.filter { !$0.existing && $0.physical == $0.final }.map(\.physical))
        for later in rehearsed.filter({ $0.id >= plan.id && $0.table.value == plan.table.value }) {
            for reference in try Self.plannedReferences(later, connection: connection)
            where reference.columns.allSatisfy({ name in created.contains(name) || genTable.columns.contains { $0.name == name } })
                && reference.parentColumns.allSatisfy({ name in inspected.table(reference.parent)?.columns.contains { $0.name == name } ?? false })
                && !genTable.references.contains(reference) {
                genTable.references.append(reference)
            }
        }
        // A multi-column `add_unique` is enforced from expand on: the writers walk its key space
        // as they walk a composite key's, so they never write a tuple the table already holds.
        for columns in Self.plannedCompositeUnique(plan) where columns.allSatisfy({ name in genTable.columns.contains { $0.name == name } }) {
            genTable.compositeUnique.append(columns)
            if let last = columns.last, let index = genTable.columns.firstIndex(where: { $0.name == last }),
               genTable.columns[index].foreignKey == nil {
                genTable.columns[index].unique = true
            }
        }
        let traffic = TrafficSimulator(conninfo: conninfo, transition: transition, table: genTable, rowNumbers: rowNumbers)
        traffic.pendingUniqueKeys = Self.plannedCompositeUnique(plan)
        do {
            try TrafficSimulator.prepare(connection, transition: transition, simulator: traffic, values: values,
                                         lists: Dictionary(Self.plannedValueLists(plan).map { ($0.column, $0.values) }, uniquingKeysWith: { first, _ in first }))
        } catch {
            // Computing up(old) for the existing rows fails: so would the backfill.
            let expressions = PlanValidator.expressions(of: plan).filter { $0.key == "up" || $0.key == "backfill" }
            let pg = error as? PostgresError
            let cause = (pg?.sqlState.map { "\($0) " } ?? "") + (pg?.message ?? "\(error)")
            let locations = expressions.map { "\($0.key) at \($0.value.location)" }.joined(separator: ", ")
            result.violations.append("\(plan.id): up fails on the existing rows: \(cause) — evaluating \(locations)")
            return
        }
        let engine = engine(conninfo: conninfo, plan: plan)

        traffic.set(old: true, new: false)
        Thread.sleep(forTimeInterval: options.trafficLeadSeconds)
        // The application before expand: what its writers adapted is told with expand's step.
        var notesBefore = traffic.take().notes
        let steps: [(PhaseCommand, old: Bool, new: Bool)] = [(.expand, true, false), (.backfill, true, true), (.verify, true, true), (.contract, false, true)]
        for (command, old, new) in steps {
            // With versioned schemas, each version's writers go through its schema from expand's commit on.
            traffic.set(old: old, new: new, contracting: command == .contract, schemasMade: command != .expand)
            Thread.sleep(forTimeInterval: options.trafficLeadSeconds)
            let started = Date()
            var outcome = "ok"
            var rows: Int?
            do {
                let phase = try engine.run(command, plan: plan.file)
                if case .int(let n)? = phase.details["rows_updated"] { rows = n }
            } catch let error as BellowsError {
                outcome = "failed"
                result.violations.append("\(plan.id): \(command.rawValue) under traffic: \(explain(error, plan: plan))")
            }
            if command == .contract { traffic.set(old: false, new: true, contracted: true, schemasMade: true) }
            Thread.sleep(forTimeInterval: options.trafficTailSeconds)
            var stats = command == .contract ? traffic.stop() : traffic.take()
            stats.notes = notesBefore + stats.notes
            notesBefore = []
            result.steps.append(RehearsalStep(plan: plan.id, phase: command.rawValue, seconds: Date().timeIntervalSince(started),
                                              rows: rows, traffic: stats, outcome: outcome))
            checkTraffic(stats, plan: plan, phase: command.rawValue)
            if outcome != "ok" { _ = traffic.stop(); return }
        }
        // Invariants after contract.
        for problem in try traffic.violations(connection) {
            result.violations.append("\(plan.id): after contract, \(problem) (see up/down at \(transition.groups.map { "\($0.location)" }.joined(separator: ", ")))")
        }
        result.violations += try schemaProblems(connection, transition: transition)
    }

    /// The table after contract must have the plan's shape and nothing of the transition.
    func schemaProblems(_ connection: Connection, transition: Transition) throws -> [String] {
        // A plan that renames its table (`rename_table_to`): the table under its new name, the old name gone.
        let finalName = TableName(schema: transition.table.schema, name: transition.plan.finalTableName.name)
        guard let table = try CatalogReader.table(connection, finalName) else { return ["\(transition.plan.id): table vanished"] }
        var problems: [String] = []
        let id = transition.plan.id
        if transition.plan.renameTableTo != nil,
           try connection.query("SELECT to_regclass($1) IS NOT NULL AS present", [transition.quotedTable]).first?.bool("present") == true {
            problems.append("\(id): \(transition.tableName) still exists after contract renamed the table to \(finalName)")
        }
        for target in transition.allTargets {
            guard let column = table.column(target.final) else {
                problems.append("\(id): column \(target.final) is missing after contract"); continue
            }
            if target.notNull && !column.notNull { problems.append("\(id): \(target.final) should be NOT NULL after contract") }
            if target.unique && table.uniqueIndex(on: target.final) == nil { problems.append("\(id): \(target.final) should be unique after contract") }
        }
        for renamed in transition.renamedInPlace where table.column(renamed.old) != nil {
            problems.append("\(id): column \(renamed.old) is still there after contract renamed it to \(renamed.new)")
        }
        for dropped in transition.droppedColumns where !transition.allTargets.contains(where: { $0.final == dropped }) {
            if table.column(dropped) != nil { problems.append("\(id): old column \(dropped) still exists after contract") }
        }
        let leftovers = table.columns.map(\.name).filter { $0.hasPrefix(TransitionNames.reservedPrefix) }
            + table.constraints.map(\.name).filter { $0.hasPrefix(TransitionNames.reservedPrefix) }
            + table.indexes.map(\.name).filter { $0.hasPrefix(TransitionNames.reservedPrefix) }
        if !leftovers.isEmpty { problems.append("\(id): transition objects left after contract: \(leftovers.joined(separator: ", "))") }
        let triggers = try connection.query("SELECT count(*) AS n FROM pg_trigger WHERE tgrelid = to_regclass($1) AND (tgname LIKE '\\_bellows\\_%' OR left(tgname, length($2)) = $2)", [finalName.quoted, TransitionNames.triggerPrefix]).first?.int("n") ?? 0
        if triggers > 0 { problems.append("\(id): a dual-write trigger is left after contract") }
        return problems
    }

    /// Forward to `after` on a fresh copy, then rollback; the catalog must be as before.
    func rollback(_ plan: Plan, after command: PhaseCommand, conninfo: String) throws {
        report(.info("   \(plan.id): on a fresh copy, forward to \(command.resultingPhase.rawValue), then roll back"))
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let before = try CatalogSnapshot.take(connection, table: plan.table.value)
        let rowsBefore = try connection.query("SELECT count(*) AS n FROM \(plan.table.value.quoted)").first?.int("n") ?? 0
        let engine = engine(conninfo: conninfo, plan: plan)
        let started = Date()
        var outcome = "ok"
        do {
            for step in PhaseCommand.allCases.prefix(while: { $0 != .contract }) {
                try engine.run(step, plan: plan.file)
                if step == command { break }
            }
            try engine.run(.rollback, plan: plan.file)
        } catch let error as BellowsError {
            outcome = "failed"
            result.violations.append("\(plan.id): rollback after \(command.rawValue): \(explain(error, plan: plan))")
        }
        let after = try CatalogSnapshot.take(connection, table: plan.table.value)
        let difference = before.difference(to: after)
        if outcome == "ok" && !difference.isEmpty {
            outcome = "differs"
            result.violations.append("\(plan.id): rollback after \(command.rawValue) left the table different:\n    " + difference.joined(separator: "\n    "))
        }
        let rowsAfter = try connection.query("SELECT count(*) AS n FROM \(plan.table.value.quoted)").first?.int("n") ?? 0
        if let rename = plan.renameTableTo,
           try connection.query("SELECT to_regclass($1) IS NOT NULL AS present", [TableName(schema: plan.table.value.schema, name: rename.value).quoted]).first?.bool("present") == true {
            result.violations.append("\(plan.id): rollback after \(command.rawValue) left \(rename.value), the table's new name, behind")
        }
        if rowsAfter != rowsBefore { result.violations.append("\(plan.id): rollback after \(command.rawValue) changed the row count \(rowsBefore) → \(rowsAfter)") }
        result.steps.append(RehearsalStep(plan: plan.id, phase: "rollback after \(command.rawValue)", seconds: Date().timeIntervalSince(started),
                                          rows: nil, traffic: TrafficStats(), outcome: outcome))
    }

    func checkTraffic(_ stats: TrafficStats, plan: Plan, phase: String) {
        for note in Array(Set(stats.notes)).sorted() { report(.info("   \(plan.id): during \(phase), \(note)")) }
        for failure in Array(Set(stats.failures)).sorted().prefix(5) {
            result.violations.append("\(plan.id): during \(phase), a traffic statement failed: \(failure)")
        }
        if stats.longestMilliseconds > Double(options.lockTimeoutMilliseconds) {
            result.violations.append(String(format: "%@: during %@, a traffic statement waited %.0f ms (longer than the lock timeout of %d ms)",
                                            plan.id, phase, stats.longestMilliseconds, options.lockTimeoutMilliseconds))
        }
    }

    /// An engine error as a rehearsal violation, pointing at the plan's lines where it can.
    func explain(_ error: BellowsError, plan: Plan) -> String {
        switch error {
        case .failed(_, _, let purpose, let pg) where purpose.hasPrefix("build index") && pg.sqlState == .uniqueViolation:
            let locations = plan.changes.compactMap { change -> String? in
                switch change {
                case .alter(let c): return c.attributes.unique.map { "\($0.location)" }
                case .add(let c): return c.attributes.unique.map { "\($0.location)" }
                default: return nil
                }
            } + plan.constraintChanges.compactMap { change -> String? in
                // An `add_unique`'s place (its message said "at  requires").
                guard case .unique(_, _, let location) = change else { return nil }
                return "\(location)"
            }
            return "\(purpose) failed: \(pg.message)" + (pg.detail.map { " (\($0))" } ?? "")
                + " — the data is not unique as 'unique' at \(locations.joined(separator: ", ")) requires"
        case .failed(_, let command, let purpose, let pg) where command == .backfill || command == .expand:
            let expressions = PlanValidator.expressions(of: plan).filter { $0.key == "up" || $0.key == "backfill" || $0.key == "down" }
            let locations = expressions.map { "\($0.key) at \($0.value.location)" }.joined(separator: ", ")
            return "\(purpose) failed: \(pg.sqlState.map { "\($0) " } ?? "")\(pg.message)" + (pg.hint.map { " (hint: \($0))" } ?? "")
                + (locations.isEmpty ? "" : " — evaluating \(locations)")
        default:
            return error.description
        }
    }

    /// Applies every migration in order with the migration runner (file and ledger row in one
    /// transaction, as `bellows migrate` does), one by one, running each migration's tests
    /// (`migrations/tests/NNN_*.sql`) after it: a failing test is a violation.
    func applyMigrations(_ connection: Connection, conninfo: String) throws {
        var migrationOptions = MigrationOptions(conninfo: conninfo, actor: "bellows-rehearsal")
        migrationOptions.lockTimeoutMilliseconds = options.lockTimeoutMilliseconds
        let runner = MigrationRunner(project: project, options: migrationOptions, reporter: report)
        var rehearsal = MigrationRehearsal(runner: runner, report: report)
        rehearsal.rollbacks = options.rollbacks
        rehearsal.createsMissingRoles = options.database == nil
        let outcome = try rehearsal.run()
        if !outcome.createdRoles.isEmpty {
            report(.info("roles the migrations name, created NOLOGIN in the scratch cluster: \(outcome.createdRoles.joined(separator: ", "))"))
        }
        result.migrations += outcome.results
        for failure in outcome.results.flatMap({ $0.tests.compactMap(\.failure) }) {
            result.violations.append("migration test \(failure.test) (after \(failure.migration)) failed: \(failure.location): ERROR"
                                     + (failure.sqlState.map { " \($0)" } ?? "") + ": \(failure.message)")
        }
        for migration in outcome.results {
            result.violations += migration.rollback?.problems(of: migration.migration) ?? []
            if let check = migration.rollback, check.outcome == .missing {
                result.warnings.append("\(migration.migration): \(check.message ?? "no rollback file")")
            }
        }
        if let stopped = outcome.stopped {
            result.violations.append(stopped)
            throw RehearsalStopped()
        }
        if let waiting = outcome.waiting {
            // The later files wait for a plan's contract: the plans are rehearsed on the
            // schema before them (the order `bellows migrate` follows on a fresh database).
            report(.info("applied \(outcome.applied) migration(s); \(waiting.wait.message): it and the files after it are not applied in this rehearsal"))
        } else {
            report(.info("applied \(outcome.applied) migration(s)"))
        }
    }
}
