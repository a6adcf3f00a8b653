@testable import BellowsEngine
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// The dual-write trigger on a partitioned table is cloned onto every partition, and a write
/// into a partition fires only the clone: the trigger checks and the identity verify records
/// cover every clone, and a partition attached or detached since verify.
@Suite(needsDatabase)
struct PartitionTriggerTests {
    @Test func theTriggerIdentityCoversEveryPartition() throws {
        let fixture = try EngineFixture("part-trigger")
        defer { fixture.close() }
        let trigger = "~bellows_sync_001_ev_payload"
        try fixture.exec("""
            CREATE TABLE ev (id bigint, region int, payload text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
            CREATE TABLE ev_1 PARTITION OF ev FOR VALUES IN (1);
            CREATE TABLE ev_2 PARTITION OF ev FOR VALUES IN (2);
            CREATE FUNCTION ev_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
            CREATE TRIGGER "\(trigger)" BEFORE INSERT OR UPDATE ON ev FOR EACH ROW EXECUTE FUNCTION ev_sync();
            ALTER TABLE ev ENABLE ALWAYS TRIGGER "\(trigger)";
            ALTER TABLE ev_1 ENABLE ALWAYS TRIGGER "\(trigger)";
            ALTER TABLE ev_2 ENABLE ALWAYS TRIGGER "\(trigger)";
            """)
        let engine = fixture.engine()
        let connection = try engine.connect()
        defer { connection.close() }
        let problem = { try engine.triggerProblem(table: "ev", trigger: trigger, plan: "001_ev_payload", connection: connection) }
        let identity = { try engine.triggerIdentity(table: "ev", trigger: trigger, connection: connection) }
        #expect(try problem() == nil)
        let verified = try identity()
        #expect(verified?.split(separator: ";").count == 3, "\(verified ?? "nil")")

        // A clone disabled: refused, naming the partition.
        try fixture.exec("ALTER TABLE ev_1 DISABLE TRIGGER \"\(trigger)\"")
        let disabled = try problem()
        #expect(disabled?.message.contains("disabled on partition ev_1") == true, "\(disabled?.message ?? "nil")")
        // A clone that fires only for origin sessions: refused.
        try fixture.exec("ALTER TABLE ev_1 ENABLE TRIGGER \"\(trigger)\"")
        #expect(try problem()?.message.contains("not ENABLE ALWAYS on partition ev_1") == true)
        // Re-enabled ALWAYS: in force again, but its identity is not the verified one.
        try fixture.exec("ALTER TABLE ev_1 ENABLE ALWAYS TRIGGER \"\(trigger)\"")
        #expect(try problem() == nil)
        let reenabled = try identity()
        #expect(reenabled != nil && reenabled != verified)

        // A partition attached since: a new clone, a new identity.
        try fixture.exec("""
            CREATE TABLE ev_3 (LIKE ev);
            INSERT INTO ev_3 (id, region, payload) SELECT g, 3, 'archived' || g FROM generate_series(1, 50) AS g;
            ALTER TABLE ev ATTACH PARTITION ev_3 FOR VALUES IN (3);
            """)
        let attached = try identity()
        #expect(attached?.split(separator: ";").count == 4, "\(attached ?? "nil")")
        #expect(attached != reenabled)
        // A partition detached: its clone leaves the identity.
        try fixture.exec("ALTER TABLE ev DETACH PARTITION ev_2")
        let detached = try identity()
        #expect(detached?.split(separator: ";").count == 3, "\(detached ?? "nil")")
        #expect(detached != attached)

        // A plain table keeps the one-row form.
        try fixture.exec("""
            CREATE TABLE plain (id int PRIMARY KEY);
            CREATE TRIGGER "\(trigger)" BEFORE INSERT ON plain FOR EACH ROW EXECUTE FUNCTION ev_sync();
            """)
        #expect(try identity() != nil)
        #expect(try engine.triggerIdentity(table: "plain", trigger: trigger, connection: connection)?.contains(";") == false)
    }
}
