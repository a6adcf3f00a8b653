import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

extension Engine {
    func backfill(_ plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        let rescan = options.rescan && state.phase == .backfilled
        if state.phase == .backfilled && !rescan {
            report(.info("plan \(plan.id) is already backfilled (`bellows backfill \(plan.id) --rescan` recomputes rows that disagree with up)"))
            return ["rows_updated": .int(state.backfillRows), "already_done": true]
        }
        let transition = try self.transition(for: plan, connection: connection, storedOnly: true)
        let sql = PhaseSQL(transition)
        var failures = checksumFailures(plan, state: state)
        if transition.needsTrigger, let problem = try triggerProblem(sql, transition: transition, connection: connection) {
            failures.append(problem)
        }
        failures += try tableSafetyFailures(table: transition.quotedTable, plan: plan, connection: connection)
        failures += manualGateFailures(plan, before: .backfill, connection: connection)
        guard failures.isEmpty else { throw refuse(connection, plan: plan, command: .backfill, phase: state.phase, failures) }
        let privileges = try followColumnPrivileges(plan, .backfill, transition, connection: connection)

        let settings = plan.backfill
        var pacer = BackfillPacer(settings: settings, pacing: options.pacing, fixedBatchSize: options.batchSize,
                                  pauseMilliseconds: options.pauseMilliseconds)
        let table = transition.quotedTable
        // The table's rows when the backfill starts (the planner's estimate): the rows up to the
        // upper bound taken below, which is where the walk ends.
        var estimate = try connection.query("SELECT greatest(reltuples, 0)::bigint AS n FROM pg_class WHERE oid = to_regclass($1)", [table]).first?.int("n") ?? 0
        let bytesAtStart = try tableBytes(connection, table)
        // A rescan walks every row again (it changes only those that disagree with up).
        let cursor = rescan ? nil : state.backfillCursor
        // The walk's end, fixed when the backfill starts: the largest key then. Every row
        // written since expand is the dual-write trigger's (an insert past the bound too), so
        // the walk need not chase the application's inserts. Saved with the cursor: a resumed
        // backfill stops at the same key. A rescan takes a new one.
        var upperBound = rescan ? nil : state.backfillBound
        if upperBound == nil, sql.needsBackfill {
            // A proof that the walk can end where it means to: its end, read back from its text,
            // is a key of the table (a text that reads back as another key ended walks short,
            // hostile-l 02, hostile-m 03).
            let end = try KeyTextSettings.reading(connection) { try connection.query(sql.keyset.checkedUpperBound).first }
            upperBound = try end?.stringArray("max_key")
            if let end, let upperBound, try !end.bool("found") {
                throw PhaseFailure(purpose: "take the walk's end", error: PostgresError(kind: .client, message:
                    "the table's largest key, read as text (\(upperBound.joined(separator: ", "))), does not read back as a key of \(table): "
                    + "the walk could not tell where to end, because the key's type has no exact text under the walk's settings; nothing was changed"))
            }
            do { try StateStore.saveBackfillBound(connection, plan: plan.id, bound: upperBound, phase: state.phase) } catch let error as PostgresError {
                throw PhaseFailure(purpose: "save the backfill's upper bound", error: error)
            }
            if cursor != nil, let upperBound {
                // Started by a Bellows that kept no bound: the bound is taken now.
                report(.info("the backfill of \(plan.id) ends at key (\(upperBound.joined(separator: ", "))), the largest now"))
            }
        }
        var updatedTotal = state.backfillRows
        var scannedThisRun = 0
        var updatedThisRun = 0
        var sinceVacuum = 0
        var vacuumEvery = Self.vacuumEveryRows(settings, estimate: estimate)
        var vacuums = 0
        // Only the table's owner (or, from PostgreSQL 17, a role with MAINTAIN) may vacuum it:
        // for anyone else VACUUM is a warning that does nothing (hostile-g 02).
        var vacuumRefused: String?
        if vacuumEvery > 0, try !Self.mayVacuum(table, connection: connection) {
            vacuumRefused = "\(try connection.query("SELECT current_user::text AS u").first?.string("u") ?? "this role") may not vacuum \(table)"
            vacuumEvery = 0
            report(.info("warning: \(vacuumRefused ?? ""): the backfill cannot free the row versions it replaces, and the table may grow "
                         + "to twice its size until autovacuum runs; run the backfill as the table's owner"
                         + (connection.serverVersion >= 170000 ? " or GRANT MAINTAIN ON \(table) to its role" : "") + " [vacuum-refused]"))
        }
        let vacuum = BackgroundVacuum(conninfo: options.conninfo, table: table)
        defer { vacuum.close() }
        /// Takes how a VACUUM ended: counted when it ran; a refusal stops the attempts.
        func settle(_ outcome: BackgroundVacuum.Outcome) {
            switch outcome {
            case .done:
                vacuums += 1
            case .skippedLocked:
                report(.info("skipped that VACUUM: another session holds \(table)'s vacuum lock (autovacuum, an ANALYZE, an index build)"))
            case .refused(let message):
                // Not counted as done: a VACUUM that warns skipped the table.
                vacuumRefused = message
                vacuumEvery = 0
                report(.info("warning: that VACUUM did nothing (\(message)); the backfill stops trying [vacuum-refused]"))
            case .failed(let message):
                report(.info("warning: that VACUUM failed (\(message)); the next one is tried after \(vacuumEvery) more updated rows"))
            }
        }
        let started = Date()
        var scannedBefore = 0
        if let cursor, let upperBound {
            // Resume: count what the walk already passed and the rows up to its bound, for
            // honest progress.
            let keys = "(" + transition.key.map { SQLQuote.identifier($0.name) }.joined(separator: ", ") + ")"
            func parameters(from first: Int) -> String {
                "(" + transition.key.enumerated().map { "$\(first + $0.offset)::\($0.element.type)" }.joined(separator: ", ") + ")"
            }
            let counted = try connection.query("""
                SELECT count(*) FILTER (WHERE \(keys) <= \(parameters(from: 1))) AS passed, count(*) AS total
                FROM \(table) WHERE \(keys) <= \(parameters(from: transition.key.count + 1))
                """, (cursor + upperBound).map { $0 }).first
            scannedBefore = try counted?.int("passed") ?? 0
            estimate = try counted?.int("total") ?? estimate
            report(.info("resuming the backfill of \(plan.id) after key (\(cursor.joined(separator: ", "))), up to key (\(upperBound.joined(separator: ", ")))"))
        }
        // When this run starts, with the rows done before it: `status` compares its rate with the estimate.
        if sql.needsBackfill {
            do { try StateStore.markBackfillStart(connection, plan: plan.id, phase: state.phase) } catch let error as PostgresError {
                throw PhaseFailure(purpose: "record the start of the backfill run", error: error)
            }
        }
        let lockPolicy = policy(for: plan)
        // The batches do not fire the table's own triggers (an `updated_at` stamped on every
        // row, an audit row per row) when the role may set session_replication_role = replica;
        // the dual-write trigger is ENABLE ALWAYS and stands aside for the backfill by its WHEN.
        let triggers = try triggersTheBackfillFires(transition, connection: connection)
        if !triggers.fired.isEmpty {
            report(.info("warning: " + Self.backfillFiresMessage(triggers, table: transition.tableName.description)))
        }
        var announced = false
        var activeSessions: Int?
        var pausedSeconds = 0.0
        /// Since when the backfill waits for a replica's replay (`max_replica_lag_ms`).
        var replicaWaitStarted: Date?
        /// Progress while waiting (paused, replica lag): no rate, the table as at the start.
        func waiting(_ why: String) -> BackfillProgress {
            BackfillProgress(
                plan: plan.id, rowsScanned: scannedBefore + scannedThisRun, rowsUpdated: updatedTotal, estimatedTotal: estimate,
                rowsPerSecond: 0, etaSeconds: nil, batchSize: pacer.nextBatchSize, lastBatchMilliseconds: 0, throttled: why,
                pace: pacer.description, activeSessions: activeSessions, tableBytes: bytesAtStart, tableBytesAtStart: bytesAtStart,
                control: pacer.control.summary, vacuums: vacuums)
        }

        // `progress` hooks of bellows.yaml, every `progress_minutes` (between batches, or while paused).
        let progressEvery = hookConfiguration.progressMinutes * 60
        var nextProgressHook = Date().addingTimeInterval(progressEvery)
        func progressHooks(_ progress: BackfillProgress) {
            guard hookConfiguration.hasProgressHooks, Date() >= nextProgressHook else { return }
            _ = runHooks(.progress, .backfill, plan: plan, from: state.phase, connection: connection) { $0.progress = HookProgress(progress) }
            nextProgressHook = Date().addingTimeInterval(progressEvery)
        }

        // Rendered once: the first batch has no cursor, every later one starts from it.
        let firstBatch = sql.backfillBatch(first: true, rescan: rescan)
        let nextBatch = sql.backfillBatch(first: false, rescan: rescan)
        if rescan { report(.info("rescanning \(table) from the first key: rows whose new columns disagree with up are recomputed")) }
        if plan.strategy == .views, !sql.needsBackfill {
            report(.info("\(plan.id): nothing to backfill (strategy: views): no column is copied; each application version reads its names "
                         + "through its versioned schema, and contract renames in place"))
        }
        let marker = sql.backfillMarker, replica = triggers.replica, planID = plan.id, fromPhase = state.phase
        let lockTimeout = lockPolicy.lockTimeoutMilliseconds, statementTimeout = settings.statementTimeoutMilliseconds
        // The walk's sessions (this one, and the helpers, which take every setting it was given
        // by SET) run under the plan's timeouts, not a role's or database's: a batch's last key
        // read under a role's statement_timeout of 25 ms stopped every helper and failed the
        // backfill (hostile-l 03), and one waiting behind another session's ACCESS EXCLUSIVE
        // lock held a stop for as long (hostile-l 04). Read committed whatever the database's
        // default: every batch also updates the plan's one row in bellows.plans, and under
        // repeatable read or serializable the walkers' batches failed each other's (40001,
        // hostile-l 01). The timeouts are put back to the session's defaults after the walk.
        do {
            try connection.execute("""
                SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false),
                       set_config('default_transaction_isolation', 'read committed', false)
                """, ["\(statementTimeout)ms", "\(lockTimeout)ms"])
        } catch {
            throw PhaseFailure(purpose: "set the backfill session's timeouts", error: error)
        }
        // Keys are read as text under settings that read back as the same key; each batch's
        // transaction computes up under the session's own (KeyTextSettings, hostile-m 03).
        let sessionValues: [String]
        do { sessionValues = try KeyTextSettings.enter(connection) } catch {
            throw PhaseFailure(purpose: "set the settings the walk reads its keys under", error: error)
        }
        let update = (first: firstBatch.update, next: nextBatch.update)
        let walk = BackfillWalk(cursor: cursor, upperBound: upperBound ?? [], bound: (firstBatch.bound, nextBatch.bound),
                                 retries: settings.retries) { session, batch, cursor in
            try Self.batchTransaction(session, batch: batch, cursor: cursor, update: update, planID: planID, fromPhase: fromPhase, marker: marker,
                                      sessionValues: sessionValues,
                                      lockTimeoutMilliseconds: lockTimeout, statementTimeoutMilliseconds: statementTimeout, replica: replica)
        }
        defer { walk.close() }
        /// The helper sessions are opened when the walk first runs at full speed.
        var helpersOpened = false
        /// The most sessions that walked side by side in this run (the history event's `sessions_this_run`).
        var mostWalkers = 1
        /// Failed reads of the next batch's last key in a row.
        var boundFailures = 0
        /// Takes what the helper sessions did.
        func takeHelperReports() {
            for helper in walk.drain() {
                guard let batch = helper.batch, helper.failure == nil else {
                    let walkers = 1 + walk.helperCount
                    let again = helper.batch == nil ? "" : "its batch is walked again by the backfill's own session; "
                    report(.info(helper.stopped
                                 ? "a helper session of the backfill stopped (\(helper.failure ?? "")); \(again)"
                                   + "\(walkers) session\(walkers == 1 ? "" : "s") walk\(walkers == 1 ? "s" : "") on"
                                 : "a helper session's \(helper.batch == nil ? "read of its next batch's last key" : "batch") failed (\(helper.failure ?? "")); \(again)the helper goes on"))
                    continue
                }
                scannedThisRun += batch.scanned
                updatedThisRun += helper.updated
                updatedTotal += helper.updated
                sinceVacuum += helper.updated
            }
        }
        /// The exact cursor, saved when the walk stops with helpers: each batch saved the
        /// cursor as it knew it, which may lag behind the helpers' last commits.
        func saveWalkCursor() {
            guard helpersOpened, let cursor = walk.cursor else { return }
            _ = try? connection.execute("""
                UPDATE bellows.plans SET backfill_cursor = $2::text[], updated_at = now() WHERE id = $1 AND phase = $3
                """, [plan.id, PostgresArray.literal(cursor), state.phase.rawValue])
        }
        /// The table's size when last read: a size that cannot be read now (its lock held by
        /// another session past lock_timeout) is not worth failing the backfill for.
        var tableBytesLast = bytesAtStart
        /// Progress between batches: the rows walked so far against the estimate; once the walk
        /// is done, against the rows it walked (the estimate is the planner's).
        func walkingProgress(lastBatchMilliseconds: Double, walkDone: Bool = false) -> BackfillProgress {
            let seconds = Date().timeIntervalSince(started) - pausedSeconds
            let rate = seconds > 0 ? Double(scannedThisRun) / seconds : 0
            let remaining = max(0, estimate - scannedBefore - scannedThisRun)
            if let bytes = try? tableBytes(connection, table) { tableBytesLast = bytes }
            return BackfillProgress(
                plan: plan.id, rowsScanned: scannedBefore + scannedThisRun, rowsUpdated: updatedTotal,
                estimatedTotal: walkDone ? scannedBefore + scannedThisRun : estimate,
                rowsPerSecond: rate, etaSeconds: rate > 0 && remaining > 0 && !walkDone ? Double(remaining) / rate : nil, batchSize: pacer.nextBatchSize,
                lastBatchMilliseconds: lastBatchMilliseconds, throttled: nil, pace: pacer.description, activeSessions: activeSessions,
                tableBytes: tableBytesLast, tableBytesAtStart: bytesAtStart, control: pacer.control.summary,
                vacuums: vacuums + (vacuum.isRunning ? 1 : 0), walkDone: walkDone)
        }
        // An empty table at the start has no bound and nothing to backfill.
        while sql.needsBackfill, upperBound != nil {
            takeHelperReports()
            if options.shouldStop() {
                walk.close()
                takeHelperReports()
                saveWalkCursor()
                recordQuietly(connection, plan: plan, command: .backfill, from: state.phase, outcome: "interrupted",
                              details: ["rows_updated": .int(updatedTotal), "cursor": .array((walk.cursor ?? []).map(JSONValue.string))])
                throw BellowsError.interrupted(plan: plan.id, rowsDone: updatedTotal, resume: "bellows backfill \(plan.id)" + (rescan ? " --rescan" : ""))
            }
            // The release manager's control, one read between two batches (bellows pause / throttle).
            // (Not through `step`: the stop was asked for just above, once per batch.)
            let control: BackfillControl
            do { control = try StateStore.control(connection, plan: plan.id) ?? BackfillControl() } catch let error as PostgresError {
                throw PhaseFailure(purpose: "read the backfill's control", error: error)
            }
            if pacer.apply(control) {
                report(.info("backfill of \(plan.id): " + (control.summary.map { $0 + (control.paused ? "; `bellows resume \(plan.id)` goes on" : "") }
                                                            ?? "no pause or throttle any more")))
            }
            if control.paused {
                walk.setPace(mayWalk: false, batchSize: pacer.nextBatchSize)
                let progress = waiting("paused: `bellows resume \(plan.id)` goes on")
                report(.backfill(progress))
                progressHooks(progress)
                let pauseStart = Date()
                while Date().timeIntervalSince(pauseStart) < options.controlPollSeconds && !options.shouldStop() {
                    Thread.sleep(forTimeInterval: min(0.1, options.controlPollSeconds))
                }
                pausedSeconds += Date().timeIntervalSince(pauseStart)
                continue
            }
            if let limit = settings.maxReplicaLagMilliseconds {
                let lag = try replicaLagMilliseconds(connection)
                if let lag, lag > Double(limit) {
                    walk.setPace(mayWalk: false, batchSize: pacer.nextBatchSize)
                    let why = String(format: "replica lag %.0f ms > %d ms (backfill.max_replica_lag_ms)", lag, limit)
                    if replicaWaitStarted == nil {
                        replicaWaitStarted = Date()
                        report(.info("backfill of \(plan.id): waiting for the replicas to replay: \(why)"))
                    }
                    let progress = waiting(why)
                    report(.backfill(progress))
                    progressHooks(progress)
                    let waitStart = Date()
                    while Date().timeIntervalSince(waitStart) < 1 && !options.shouldStop() { Thread.sleep(forTimeInterval: 0.1) }
                    pausedSeconds += Date().timeIntervalSince(waitStart)
                    continue
                }
                if let since = replicaWaitStarted {
                    report(.info(String(format: "backfill of %@: the replicas caught up (lag %@ ≤ %d ms) after %.1f s; going on", plan.id,
                                        lag.map { String(format: "%.0f ms", $0) } ?? "none", limit, Date().timeIntervalSince(since))))
                    replicaWaitStarted = nil
                }
            }
            if let activity = try observeServer(&pacer, what: "backfill of \(plan.id)", reportChange: scannedThisRun > 0,
                                                excluding: (vacuum.pid.map { [$0] } ?? []) + walk.helperPIDs, connection: connection) {
                activeSessions = activity.activeSessions
            }
            // Side by side only at full speed, alone on the server, unthrottled: gentle batches
            // run one at a time, and a rate or a pause is the backfill's as a whole.
            let sideBySide = settings.workers > 1 && !pacer.isGentle && pacer.control.maxRowsPerSecond == nil && pacer.control.batchSize == nil
                && pacer.pauseMilliseconds == 0
            if sideBySide, !helpersOpened, !walk.isFrontDone {
                helpersOpened = true
                // Every setting this session was given by SET (Engine.connect's row_security, the
                // plan's pinned search_path and settings: pinSearchPath), for each helper: the
                // connection string and PG* variables give them the rest alike.
                let sessionSettings = try connection.query("""
                    SELECT name, current_setting(name) AS value FROM pg_settings WHERE source = 'session' AND name <> 'application_name' ORDER BY name
                    """).map { (try $0.string("name"), try $0.string("value")) }
                // Within the connections the role, the database and the server leave, keeping one
                // for a release manager's `bellows pause` or `status` and one for the VACUUM.
                let room = try ConnectionRoom.read(connection)
                let keep = 1 + (vacuumEvery > 0 && vacuum.pid == nil ? 1 : 0)
                let helpers = room.sessions(wanted: settings.workers - 1, keep: keep)
                if helpers < settings.workers - 1 {
                    report(.info("warning: the backfill walks with \(1 + helpers) session\(helpers == 0 ? "" : "s") of backfill.workers' \(settings.workers): "
                                 + "\(room.described), and \(keep == 1 ? "one is kept for bellows pause and status" : "two are kept: for bellows pause and status, and for the backfill's VACUUM")"))
                }
                if helpers > 0, let problem = walk.openHelpers(helpers, conninfo: options.conninfo, prepare: { session in
                    for (name, value) in sessionSettings { _ = try session.query("SELECT set_config($1, $2, false)", [name, value]) }
                }) {
                    report(.info("warning: could not open the backfill's helper sessions (\(problem)); the backfill walks with \(1 + walk.helperCount)"))
                }
                let walkers = 1 + walk.helperCount
                mostWalkers = max(mostWalkers, walkers)
                if walkers > 1 { report(.info("backfill of \(plan.id): \(walkers) sessions walk the table side by side at full speed (backfill.workers)")) }
            }
            walk.setPace(mayWalk: sideBySide, batchSize: pacer.nextBatchSize)
            if !announced {
                announce(plan, .backfill, PhaseStatement(.transaction, "one keyset batch: its last key", firstBatch.bound))
                announce(plan, .backfill, PhaseStatement(.transaction, "one keyset batch: its rows", firstBatch.update))
                announced = true
            }
            let taken: BackfillWalk.Batch?
            do {
                taken = try walk.next(size: pacer.nextBatchSize, connection: connection)
            } catch let error as PostgresError {
                // A stop cancels the read: the loop's top reports it.
                if options.shouldStop() { continue }
                // Behind another session's lock past lock_timeout_ms, over statement_timeout_ms,
                // a deadlock: read again, as a batch is retried.
                boundFailures += 1
                guard BackfillWalk.isPassing(error), boundFailures <= settings.retries else {
                    throw PhaseFailure(purpose: "read a backfill batch's last key"
                                       + (error.sqlState == .queryCanceled ? " (it ran past backfill.statement_timeout_ms, \(statementTimeout) ms)" : ""),
                                       error: error)
                }
                let delay = lockPolicy.delay(beforeRetry: boundFailures)
                report(.info("reading the next batch's last key failed (\(error.sqlState?.rawValue ?? "")): \(error.message); retrying in \(delay) ms"))
                waitUnlessStopped(milliseconds: delay)
                continue
            }
            boundFailures = 0
            guard let batch = taken else {
                // The front has reached the bound: the walk ends once every helper's batch
                // has ended and no range was given back (no helper takes a range past the bound).
                if walk.helpersBusy || walk.hasGivenBack {
                    while walk.helpersBusy && !options.shouldStop() { Thread.sleep(forTimeInterval: 0.005) }
                    continue
                }
                takeHelperReports()
                break
            }
            let batchStart = Date()
            let updated: Int
            do {
                updated = try runBatch(batch, walk: walk, policy: lockPolicy, settings: settings, connection: connection)
            } catch is BatchAbandoned {
                // A stop came while the batch waited to be tried again: the loop's top stops.
                walk.giveBack(batch)
                continue
            } catch let timedOut as BatchTimedOut {
                // Nothing of the batch was committed: the same rows again, half as many at a time.
                walk.giveBack(batch)
                let size = pacer.nextBatchSize
                let what = "a batch of \(size) row\(size == 1 ? "" : "s") took longer than statement_timeout_ms (\(settings.statementTimeoutMilliseconds) ms)"
                guard pacer.statementTimedOut() else {
                    throw PhaseFailure(purpose: "run a backfill batch: \(what), so one row's up takes longer than that; "
                                       + "raise backfill.statement_timeout_ms in the plan (roll back, edit it, expand again)", error: timedOut.error)
                }
                report(.info("\(what); trying \(pacer.nextBatchSize) row\(pacer.nextBatchSize == 1 ? "" : "s") at a time"))
                continue
            }
            walk.walked(batch)
            let elapsed = Date().timeIntervalSince(batchStart) * 1000
            takeHelperReports()
            scannedThisRun += batch.scanned
            updatedThisRun += updated
            updatedTotal += updated
            sinceVacuum += updated

            pacer.batchDone(rows: batch.scanned, milliseconds: elapsed)
            if let outcome = vacuum.poll() { settle(outcome) }
            // Frees the space of the rows the backfill replaced, for its next batches to reuse
            // (BackgroundVacuum: beside the batches, one at a time). None once the walk has
            // reached its bound: no later batch would reuse that space, and the backfill would
            // only wait for it; the application's writes get it from autovacuum, as any table's.
            // While the last one still runs, the next waits for a later batch: the walk never
            // waits for a VACUUM (nor would a stop or a pause, hostile-i 03).
            if vacuumEvery > 0, sinceVacuum >= vacuumEvery, !PostgresArray.sameKey(batch.last, upperBound), !walk.isFrontDone, !vacuum.isRunning {
                // Beside the batches at full speed; inline while the application is active (it
                // then has the server to itself during the VACUUM) or without a second session.
                if !pacer.isGentle, vacuum.start() {
                    report(.info("vacuuming \(table) beside the backfill after \(sinceVacuum) updated rows"))
                } else {
                    let why = pacer.isGentle ? "the pace is gentle: the application has the server while it runs" : "no second connection could be opened"
                    report(.info("vacuuming \(table) between batches after \(sinceVacuum) updated rows (\(why))"))
                    settle(BackgroundVacuum.run(connection, table: table))
                }
                sinceVacuum = 0
            }
            let progress = walkingProgress(lastBatchMilliseconds: elapsed)
            report(.backfill(progress))
            progressHooks(progress)
            let rest = pacer.restMilliseconds(afterBatchOf: elapsed, rows: batch.scanned)
            if rest > 0 { Thread.sleep(forTimeInterval: rest / 1000) }
        }
        walk.close()
        takeHelperReports()
        // A helper's batch may have ended the walk after the backfill's own last save: the
        // cursor kept is the walk's end (CI, loaded: `KeysetTests` saw a cursor 151 keys short).
        saveWalkCursor()
        // The walk is done: the last progress says so, counting the helpers' last batches, which
        // end after the backfill's own (a renderer shows it whatever its rate limit, hostile-l 06).
        if sql.needsBackfill, upperBound != nil { report(.backfill(walkingProgress(lastBatchMilliseconds: 0, walkDone: true))) }
        do {
            _ = try connection.executeScript("SET statement_timeout TO DEFAULT; SET lock_timeout TO DEFAULT")
            try KeyTextSettings.leave(connection, sessionValues)
        } catch {
            throw PhaseFailure(purpose: "put back the session's timeouts", error: error)
        }

        // The VACUUM still running when the walk ends, waited for (its count is final, no
        // session is left behind) unless a stop is asked for: then it is cancelled.
        while vacuum.isRunning && !options.shouldStop() { Thread.sleep(forTimeInterval: 0.05) }
        if vacuum.isRunning {
            vacuum.close()
            report(.info("cancelled the VACUUM of \(table) still running: a stop was asked for, and the walk is done"))
        } else if let outcome = vacuum.poll() {
            settle(outcome)
        }
        let bytesAtEnd = try tableBytes(connection, table)
        let details: [String: JSONValue] = [
            "rows_updated": .int(updatedTotal), "rows_updated_this_run": .int(updatedThisRun),
            "rows_scanned_this_run": .int(scannedThisRun), "seconds": .double(Date().timeIntervalSince(started)),
            "table_bytes_before": .int(bytesAtStart), "table_bytes_after": .int(bytesAtEnd), "rescan": .bool(rescan),
            "vacuums_this_run": .int(vacuums), "vacuum_every_rows": .int(vacuumEvery), "sessions_this_run": .int(mostWalkers),
        ].merging(vacuumRefused.map { ["vacuum_refused": JSONValue.string($0)] } ?? [:]) { a, _ in a }
            .merging(privileges.map { [$0.key: $0.value] } ?? [:]) { a, _ in a }
        try step("record the end of the backfill") {
            try connection.withTransaction {
                guard try StateStore.transition(connection, id: plan.id, from: state.phase, to: .backfilled,
                                                extra: ", backfill_done = true, verified_at = NULL, verified_trigger = NULL") else {
                    throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase during the backfill (another bellows?)")
                }
                try record(connection, plan: plan, command: .backfill, from: state.phase, to: .backfilled, details: details)
            }
        }
        return details
    }

    /// Whether the session may `VACUUM` `table`: a superuser, a role with the owner's privileges,
    /// the database's owner before PostgreSQL 17, and from 17 a role with `MAINTAIN` on it.
    static func mayVacuum(_ table: String, connection: Connection) throws -> Bool {
        let sql = connection.serverVersion >= 170000
            ? "SELECT has_table_privilege(to_regclass($1), 'MAINTAIN') AS ok"
            : """
              SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR pg_has_role(c.relowner, 'USAGE')
                     OR pg_has_role((SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE') AS ok
              FROM pg_class c WHERE c.oid = to_regclass($1)
              """
        return try connection.query(sql, [table]).first?.bool("ok") ?? true
    }

    /// How many updated rows apart the backfill runs its `VACUUM`: the plan's
    /// `vacuum_every_rows` (0 = never), else every tenth of the table's rows at the start, at
    /// least 10,000 rows apart. Each run frees the space of the row versions the batches before
    /// it replaced, which the next batches reuse instead of extending the table (issue 22: a
    /// tenth left the table within 1.1× of its packed size, a quarter about 1.2×, none 1.57×).
    public static func vacuumEveryRows(_ settings: BackfillSettings, estimate: Int) -> Int {
        settings.vacuumEveryRows ?? max(10_000, estimate / 10)
    }

    /// What the backfill will fire of the table's own triggers, and how to avoid it.
    static func backfillFiresMessage(_ triggers: BackfillTriggers, table: String) -> String {
        let names = triggers.fired.map(\.described).joined(separator: ", ")
        if triggers.replica {
            return "the backfill fires \(names) on \(table) for every row it updates: ENABLE ALWAYS / ENABLE REPLICA triggers fire even in session_replication_role = replica"
        }
        if triggers.inPlace {
            return "the backfill fires \(names) on \(table) for every row it updates: it rewrites values applications read (an in-place change), "
                + "which the table's triggers must see to keep what they derive from them, so it does not use session_replication_role = replica"
        }
        if !triggers.foreignKeys.isEmpty {
            return "the backfill fires \(names) on \(table) for every row it updates: it writes columns of foreign keys (\(triggers.foreignKeys.joined(separator: ", "))), "
                + "whose checks and actions session_replication_role = replica would skip, so it does not use that mode"
        }
        return "the backfill fires \(names) on \(table) for every row it updates: this role may not set session_replication_role, "
            + "which keeps them quiet; run the backfill as a superuser, or `GRANT SET ON PARAMETER session_replication_role TO <role>` (PostgreSQL 15+)"
    }

    /// A batch cancelled by its `statement_timeout` (not by a user: it ran at least that long and
    /// no stop was asked for); rolled back whole.
    struct BatchTimedOut: Error {
        var error: PostgresError
    }

    /// A batch that failed and was not tried again because a stop was asked for.
    struct BatchAbandoned: Error {}

    /// Sleeps `milliseconds`, or less when a stop is asked for meanwhile.
    func waitUnlessStopped(milliseconds: Int) {
        let end = Date().addingTimeInterval(Double(milliseconds) / 1000)
        while !options.shouldStop(), Date() < end { Thread.sleep(forTimeInterval: min(0.05, max(0, end.timeIntervalSinceNow))) }
    }

    /// One batch and its cursor, committed together; transient errors (lock timeouts,
    /// deadlocks, a dropped connection) are retried, which is safe because nothing of a
    /// failed batch was committed; not once a stop is asked for (hostile-l 04: a stop waited
    /// through every retry while another session held the table). Returns the rows updated.
    func runBatch(_ batch: BackfillWalk.Batch, walk: BackfillWalk, policy: LockPolicy, settings: BackfillSettings,
                  connection: Connection) throws -> Int {
        var attempt = 0
        while true {
            attempt += 1
            let attemptStart = Date()
            do {
                return try walk.run(batch, on: connection)
            } catch let error as PostgresError where (error.sqlState?.isTransient ?? false) || error.kind == .connection {
                guard attempt <= settings.retries else { throw PhaseFailure(purpose: "run a backfill batch", error: error) }
                if options.shouldStop(), connection.isOpen { throw BatchAbandoned() }
                let delay = policy.delay(beforeRetry: attempt)
                report(.info("backfill batch failed (\(error.sqlState?.rawValue ?? "connection")): \(error.message); retrying in \(delay) ms"))
                waitUnlessStopped(milliseconds: delay)
                if options.shouldStop(), connection.isOpen { throw BatchAbandoned() }
                if !connection.isOpen || error.kind == .connection {
                    throw PhaseFailure(purpose: "run a backfill batch (the connection dropped; run the same command to resume)", error: error)
                }
            } catch let error as PostgresError where error.sqlState == .queryCanceled && !options.shouldStop()
                        && Date().timeIntervalSince(attemptStart) * 1000 >= Double(settings.statementTimeoutMilliseconds) {
                throw BatchTimedOut(error: error)
            } catch let error as PostgresError {
                throw PhaseFailure(purpose: "run a backfill batch", error: error)
            }
        }
    }

    /// One batch's transaction, on the backfill's own session or a helper's: its rows, and the
    /// plan's row count and cursor (`cursor`; nil leaves the saved one, as a helper's batch does).
    static func batchTransaction(_ connection: Connection, batch: BackfillWalk.Batch, cursor: [String]?, update: (first: String, next: String),
                                 planID: String, fromPhase: Phase, marker: String, sessionValues: [String], lockTimeoutMilliseconds: Int,
                                 statementTimeoutMilliseconds: Int, replica: Bool) throws -> Int {
        try connection.withTransaction {
            // The batch's commit does not wait for its WAL to reach the disk
            // (synchronous_commit off, for this transaction only): waiting cost a
            // sizeable share of the backfill's time, and made the application's own
            // commits queue behind the backfill's WAL. It loses nothing: the batch and
            // its cursor commit together, so a server crash can only forget the last
            // few batches whole, which the resumed backfill does again, and the final
            // phase change commits synchronously, flushing every batch before it.
            try connection.execute("""
                SELECT set_config('bellows.backfill', $1, true), set_config('lock_timeout', $2, true),
                       set_config('statement_timeout', $3, true), set_config('synchronous_commit', 'off', true),
                       \(KeyTextSettings.restoreLocally(from: 4))\(replica ? ",\n       set_config('session_replication_role', 'replica', true)" : "")
                """, [marker, "\(lockTimeoutMilliseconds)ms", "\(statementTimeoutMilliseconds)ms"] + sessionValues.map { $0 })
            let keys: [(any PostgresBindable)?] = (batch.after ?? []).map { $0 } + batch.last.map { $0 }
            let updated = try connection.execute(batch.after == nil ? update.first : update.next, keys).affectedRows
            let saved = try connection.execute("""
                UPDATE bellows.plans SET backfill_cursor = coalesce($2::text[], backfill_cursor), backfill_rows = backfill_rows + $3, updated_at = now()
                WHERE id = $1 AND phase = $4
                """, [planID, cursor.map { PostgresArray.literal($0) }, updated, fromPhase.rawValue])
            guard saved.affectedRows == 1 else {
                throw PostgresError(kind: .client, message: "plan \(planID) left phase \(fromPhase.rawValue) during the backfill")
            }
            return updated
        }
    }

    /// What the other client sessions are doing, in any database of the server (they share
    /// its WAL and disks): how many ran something in the last second, and how many wait
    /// behind the backfill, for its row locks or in the WAL's queue. Sessions whose state
    /// this role may not see (without pg_read_all_stats) count as active.
    /// `excluding`: Bellows' own other sessions (the backfill's VACUUM and helper walkers),
    /// whose row locks count as the backfill's.
    func serverActivity(_ connection: Connection, excluding: [Int32] = []) throws -> ServerActivity {
        guard let row = try connection.query("""
            SELECT count(*) FILTER (WHERE state IS NULL OR state <> 'idle' OR state_change > clock_timestamp() - interval '1 second') AS active,
                   count(*) FILTER (WHERE datname = current_database()
                                    AND (state IS NULL OR state <> 'idle' OR state_change > clock_timestamp() - interval '1 second')) AS active_here,
                   count(*) FILTER (WHERE CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) && (pg_backend_pid() || $1::int[]) ELSE false END) AS blocked,
                   count(*) FILTER (WHERE wait_event_type = 'LWLock' AND wait_event = 'WALWrite') AS wal_queue,
                   count(*) FILTER (WHERE wait_event_type = 'IO' AND wait_event IN ('WALInitWrite', 'WALInitSync')) AS wal_init
            FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND pid <> ALL ($1::int[])
            """, [PostgresArray.literal(excluding.map(String.init))]).first else { return ServerActivity(activeSessions: 0) }
        return ServerActivity(activeSessions: try row.int("active"), activeInDatabase: try row.int("active_here"), blockedByBackfill: try row.int("blocked"),
                              waitingForWALWrite: try row.int("wal_queue"), creatingWALSegment: try row.int("wal_init"))
    }

    func tableBytes(_ connection: Connection, _ table: String) throws -> Int {
        try connection.query("SELECT pg_table_size(to_regclass($1)) AS n", [table]).first?.int("n") ?? 0
    }

    /// The largest replay lag of the streaming replicas, nil when there are none (or this role
    /// may not see it: pg_read_all_stats). After a replica caught up, `replay_lag` keeps the
    /// time to the last WAL it replayed until two of its status messages in a row report it
    /// caught up (`wal_receiver_status_interval`, 10 s by default): the backfill goes on that
    /// much later (docs/operations.md).
    func replicaLagMilliseconds(_ connection: Connection) throws -> Double? {
        try connection.query("SELECT (extract(epoch FROM max(replay_lag)) * 1000)::float8 AS lag FROM pg_stat_replication")
            .first?.optionalDouble("lag")
    }

    /// Whether the dual-write trigger is installed and fires for every writer (`ENABLE ALWAYS`),
    /// on the table and on each of its partitions (PostgreSQL clones a row trigger onto every
    /// partition, and a write into a partition fires only the clone).
    func triggerProblem(_ sql: PhaseSQL, transition: Transition, connection: Connection) throws -> GateFailure? {
        if let moved = try movedTable(transition.plan, table: transition.tableName, connection: connection) {
            return Self.movedTableFailure(transition.plan, from: transition.tableName, to: moved)
        }
        return try triggerProblem(table: transition.quotedTable, trigger: try dualWriteTrigger(sql, transition: transition, connection: connection),
                                  plan: transition.plan.id, connection: connection)
    }

    func triggerProblem(table: String, trigger: String, plan: String, connection: Connection) throws -> GateFailure? {
        let rows = try triggerRows(table: table, trigger: trigger, connection: connection)
        let rollback = "`bellows rollback \(plan)` and expand again"
        guard let parent = rows.first, parent.enabled != nil else {
            return GateFailure(gate: "trigger", message: "the dual-write trigger \(trigger) is missing from \(rows.first?.relation ?? table)",
                               remedy: "writes are no longer synchronised: \(rollback)")
        }
        for row in rows where row.enabled != "A" {
            let on = row.relation == parent.relation ? "" : " on partition \(row.relation)"
            let enable = "ALTER TABLE \(row.relation) ENABLE ALWAYS TRIGGER \(SQLQuote.identifier(trigger))"
            switch row.enabled {
            case nil:
                return GateFailure(gate: "trigger", message: "the dual-write trigger \(trigger) is missing\(on)",
                                   remedy: "writes into \(row.relation) are not synchronised: \(rollback)")
            case "D":
                return GateFailure(gate: "trigger", message: "the dual-write trigger \(trigger) is disabled\(on)",
                                   remedy: "re-enable it (\(enable)), then verify again: writes made meanwhile are not synchronised")
            default:
                return GateFailure(gate: "trigger", message: "the dual-write trigger \(trigger) is not ENABLE ALWAYS\(on): writes made with session_replication_role = replica (or local) bypass it",
                                   remedy: "\(enable), then verify again: writes made meanwhile may not be synchronised")
            }
        }
        return nil
    }

    /// The trigger's `pg_trigger` row on the table and on every partition below it, in the
    /// order of `triggerIdentity`; `enabled` is nil where a partition lacks the trigger.
    func triggerRows(table: String, trigger: String, connection: Connection) throws -> [(relation: String, identity: String, enabled: String?)] {
        try connection.query("""
            WITH tree AS (
              SELECT to_regclass($1) AS relid, 0 AS level
              UNION
              SELECT p.relid, p.level FROM pg_partition_tree(to_regclass($1)) p WHERE p.level > 0
            )
            SELECT tree.relid::regclass::text AS relation,
                   tree.relid::oid::text || '=' || coalesce(t.oid::text || ':' || t.xmin::text || ':' || t.tgenabled::text, 'none') AS identity,
                   t.tgenabled::text AS enabled
            FROM tree LEFT JOIN pg_trigger t ON t.tgrelid = tree.relid AND t.tgname = $2
            WHERE tree.relid IS NOT NULL
            ORDER BY tree.level, tree.relid::oid
            """, [table, trigger]).map {
                (relation: try $0.string("relation"), identity: try $0.string("identity"), enabled: try $0.optionalString("enabled"))
            }
    }

    /// The trigger's `pg_trigger` rows on the table and each partition, as
    /// `relid=oid:xmin:tgenabled` joined by `;` (`relid=none` for a partition without it), nil
    /// when the table's own row is missing. Any `ALTER TABLE … ENABLE/DISABLE TRIGGER` writes a
    /// new version of a row (a new xmin), a drop and re-create a new oid, and a partition
    /// attached or detached adds or removes a row: the same identity at verify and at contract
    /// proves the trigger stayed in force on every partition in between, and that no partition
    /// joined the table unverified.
    func triggerIdentity(_ sql: PhaseSQL, transition: Transition, connection: Connection) throws -> String? {
        try triggerIdentity(table: transition.quotedTable, trigger: try dualWriteTrigger(sql, transition: transition, connection: connection), connection: connection)
    }

    func triggerIdentity(table: String, trigger: String, connection: Connection) throws -> String? {
        let rows = try triggerRows(table: table, trigger: trigger, connection: connection)
        guard let parent = rows.first, parent.enabled != nil else { return nil }
        // A plain table keeps the identity's earlier form, `oid:xmin:tgenabled`.
        if rows.count == 1 { return String(parent.identity.drop { $0 != "=" }.dropFirst()) }
        return rows.map(\.identity).joined(separator: ";")
    }
}
