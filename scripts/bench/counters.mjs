// What a measured window costs, counted rather than timed: CPU of every process under test and of the whole box
// (/proc), Postgres transactions of the bench database and WAL records (pg_stat_database, pg_stat_wal), Redis
// commands by command (INFO commandstats of the bench's own Redis), BullMQ jobs added by queue (the queues'
// `<prefix>:<queue>:id` counters, which every add increments) and HTTP requests by endpoint (supplied by the run).
// Take `snapshot()` before and after the window; `cost(before, after, n)` divides the deltas by n.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { clearInterval, setInterval } from 'node:timers';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { db, root } from './harness.mjs';

const require = createRequire(import.meta.url);
const Redis = require(resolve(root, 'libs/queue/node_modules/ioredis'));
const { Client } = require(resolve(root, 'libs/db/node_modules/pg'));
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/**
 * Resident memory of a process in MB, or null once it has gone: `rss` (VmRSS) and `anon` (RssAnon: its own pages,
 * without the file pages of the node binary and libraries, which every Node process on the host shares).
 */
function processMemoryMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    const anon = /^RssAnon:\s+(\d+) kB/m.exec(status);
    return rss ? { rss: Number(rss[1]) / 1024, anon: anon ? Number(anon[1]) / 1024 : NaN } : null;
  } catch {
    return null;
  }
}

/** utime+stime of a process in ms, or null once it has gone. */
function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return null;
  }
}

/** Busy CPU of the whole machine in ms (every core; idle and iowait left out). */
function boxCpuMs() {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) * TICK_MS;
}

const round = (v, digits = 2) => Number(v.toFixed(digits));
/** MB by process name, rounded, largest first. */
const roundedDescending = (mb = {}) => Object.fromEntries(Object.entries(mb).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v)]));

/**
 * Counters for one environment. `processes()` lists the processes under test as `{ name, pid }` (replicas share a
 * name and are summed); Postgres processes are found through pg_stat_activity: backends of the bench database
 * ("postgres") and the server's background processes ("postgres background", shared with anything else on it).
 */
export async function createCounters({ databaseUrl, redisUrl, redisPrefix, redisPid, processes }) {
  const database = new URL(databaseUrl).pathname.slice(1);
  // Connected to the maintenance database, so that these reads are not transactions of the bench database.
  const statsUrl = new URL(db.withDefaultUser(databaseUrl));
  statsUrl.pathname = '/postgres';
  const pg = new Client({ connectionString: statsUrl.toString() });
  await pg.connect();
  // BENCH_WAL_BY_TABLE=1: which tables a window's WAL records belong to (walBreakdown), read with pg_walinspect (a
  // contrib extension, created in the maintenance database); a temporary replication slot, made at each window's
  // start and dropped with this connection, keeps the window's WAL until it is read. BENCH_WAL_BY_TABLE=records adds
  // them by relation (each index by its own name) and record type, a lock record with its lock's flags.
  const walMode = ['1', 'records'].includes(process.env.BENCH_WAL_BY_TABLE) ? process.env.BENCH_WAL_BY_TABLE : null;
  const walSlot = walMode ? `gtc_bench_wal_${process.pid}` : null;
  const redis = new Redis(redisUrl);

  async function pgProcesses() {
    const { rows } = await pg.query(
      `SELECT pid, CASE WHEN datname = $1 THEN 'postgres' ELSE 'postgres background' END AS name
       FROM pg_stat_activity WHERE datname = $1 OR backend_type <> 'client backend'`,
      [database],
    );
    return rows;
  }

  // CPU readings by `name\0pid`, refreshed every second between snapshots: a process that exits inside the window
  // (an idle pooled connection's backend, say) keeps its last reading.
  let cpu = {};
  // Peak resident memory by name over the window (the largest replica), sampled with the CPU: the services' and
  // Redis's own (Postgres backends share their buffers, so theirs would mislead).
  let rssPeak = {};
  let anonPeak = {};
  let sampling = Promise.resolve();
  async function sampleCpu() {
    const own = [...processes(), { name: 'redis-server', pid: redisPid }];
    for (const p of [...own, ...(await pgProcesses())]) {
      const ms = processCpuMs(p.pid);
      if (ms !== null) cpu[`${p.name}\0${p.pid}`] = ms;
    }
    for (const p of own) {
      const mb = processMemoryMb(p.pid);
      if (mb === null) continue;
      rssPeak[p.name] = Math.max(rssPeak[p.name] ?? 0, mb.rss);
      if (!Number.isNaN(mb.anon)) anonPeak[p.name] = Math.max(anonPeak[p.name] ?? 0, mb.anon);
    }
  }
  let timer;

  /**
   * Every counter now; the first call of a window (`start`) begins the CPU sampling, the next one ends it. The bench's
   * own Redis reads here are counted and later subtracted.
   */
  async function snapshot(start = !timer) {
    clearInterval(timer);
    timer = undefined;
    await sampling;
    if (start) {
      cpu = {};
      rssPeak = {};
      anonPeak = {};
    }
    await sampleCpu();
    const cpuNow = { ...cpu };
    const rssNow = { ...rssPeak };
    const anonNow = { ...anonPeak };
    if (start) timer = setInterval(() => (sampling = sampling.then(sampleCpu).catch(() => {})), 1000);
    if (start && walSlot) {
      await pg.query('CREATE EXTENSION IF NOT EXISTS pg_walinspect');
      await pg.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [walSlot]);
      await pg.query('SELECT pg_create_physical_replication_slot($1, true, true)', [walSlot]);
    }
    const { rows } = await pg.query(
      `SELECT coalesce(datname, '') AS datname, xact_commit + xact_rollback AS xacts, (SELECT wal_records FROM pg_stat_wal) AS wal_records,
         pg_current_wal_insert_lsn()::text AS lsn
       FROM pg_stat_database`,
    );
    const xacts = Object.fromEntries(rows.map((r) => [r.datname, Number(r.xacts)]));
    const commands = {};
    for (const line of (await redis.info('commandstats')).split('\n')) {
      const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
      if (m) commands[m[1]] = Number(m[2]);
    }
    // Our own commands from here on: this INFO (not in its own output), SCAN pages, one MGET.
    const own = { info: 1, scan: 0, mget: 0 };
    const keys = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${redisPrefix}:*:id`, 'COUNT', 1000);
      own.scan++;
      keys.push(...found.filter((k) => k.split(':').length === redisPrefix.split(':').length + 2));
      cursor = next;
    } while (cursor !== '0');
    const jobs = {};
    if (keys.length) {
      own.mget++;
      const values = await redis.mget(...keys);
      keys.forEach((k, i) => (jobs[k.slice(redisPrefix.length + 1, -3)] = Number(values[i])));
    }
    return {
      cpu: cpuNow,
      rss_peak_mb: rssNow,
      rss_anon_peak_mb: anonNow,
      box_cpu_ms: boxCpuMs(),
      xacts,
      wal_records: Number(rows[0].wal_records),
      wal_lsn: rows[0].lsn,
      commands,
      own,
      jobs,
    };
  }

  return {
    snapshot,
    /** The deltas between two snapshots, per unit of `n` (answered messages). HTTP counts are passed in as deltas. */
    cost(before, after, n, httpByEndpoint = {}) {
      const per = (v) => round(v / Math.max(n, 1));
      const byProcess = {};
      for (const [key, ms] of Object.entries(after.cpu)) {
        const name = key.split('\0')[0];
        byProcess[name] = (byProcess[name] ?? 0) + ms - (before.cpu[key] ?? 0); // started in the window: all of it
      }
      const total = Object.values(byProcess).reduce((a, b) => a + b, 0);
      const commands = {};
      for (const [cmd, calls] of Object.entries(after.commands)) {
        const d = calls - (before.commands[cmd] ?? 0) - (before.own[cmd] ?? 0);
        if (d > 0) commands[cmd] = d;
      }
      const sorted = Object.entries(commands).sort((a, b) => b[1] - a[1]);
      // Other databases' transactions in the window (those created in it counted from 0, dropped ones left out).
      let others = 0;
      for (const [name, count] of Object.entries(after.xacts)) if (name !== database) others += Math.max(0, count - (before.xacts[name] ?? 0));
      const jobs = {};
      for (const [queue, count] of Object.entries(after.jobs)) jobs[queue] = per(count - (before.jobs[queue] ?? 0));
      return {
        answered: n,
        cpu_ms: {
          total: per(total),
          box: per(after.box_cpu_ms - before.box_cpu_ms),
          by_process: Object.fromEntries(Object.entries(byProcess).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, per(v)])),
        },
        pg_xacts: per(after.xacts[database] - before.xacts[database]),
        wal_records: per(after.wal_records - before.wal_records),
        redis_commands: {
          total: per(sorted.reduce((a, [, c]) => a + c, 0)),
          by_command: Object.fromEntries(sorted.slice(0, 15).map(([k, v]) => [k, per(v)])),
        },
        jobs: { total: per(Object.values(after.jobs).reduce((a, c) => a + c, 0) - Object.values(before.jobs).reduce((a, c) => a + c, 0)), by_queue: jobs },
        http: {
          total: per(Object.values(httpByEndpoint).reduce((a, b) => a + b, 0)),
          by_endpoint: Object.fromEntries(Object.entries(httpByEndpoint).map(([k, v]) => [k, per(v)])),
        },
        // Not per message: the largest resident memory each process reached in the window (MB).
        rss_peak_mb: roundedDescending(after.rss_peak_mb),
        // The same, its own pages only (RssAnon): what one more replica adds to the host.
        rss_anon_peak_mb: roundedDescending(after.rss_anon_peak_mb),
        // Work of other clients of the shared Postgres in the same window: WAL records and box CPU include theirs.
        noise: { pg_xacts_other_databases: others },
      };
    },
    /**
     * With BENCH_WAL_BY_TABLE, the WAL records between two snapshots per unit of `n`: `wal_by_table` (an index's and
     * its table's together; records of no relation, such as commits, as "(none)"; the 12 largest) and, with
     * `records`, `wal_by_record` (relation, record type and a lock's flags; the 25 largest); otherwise undefined.
     * Call it while the bench database exists.
     */
    async walBreakdown(before, after, n) {
      if (!walSlot) return undefined;
      const names = new Client({ connectionString: db.withDefaultUser(databaseUrl) });
      await names.connect();
      let relations;
      try {
        ({ rows: relations } = await names.query(
          `SELECT pg_relation_filenode(c.oid)::text AS node, coalesce(t.relname, c.relname) AS table, c.relname AS own
           FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid
           WHERE pg_relation_filenode(c.oid) IS NOT NULL`,
        ));
      } finally {
        await names.end();
      }
      const byNode = new Map(relations.map((r) => [r.node, r]));
      const { rows } = await pg.query(
        `SELECT (regexp_match(block_ref, 'rel \\d+/\\d+/(\\d+)'))[1] AS node,
           record_type || CASE WHEN record_type = 'LOCK' THEN ' (' || trim(regexp_replace(description, '^.*flags 0x[0-9A-Fa-f]+ ?', '')) || ')' ELSE '' END AS kind,
           count(*)::int AS records
         FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn) GROUP BY 1, 2`,
        [before.wal_lsn, after.wal_lsn],
      );
      const nameOf = (node, key) => (node === null ? '(none)' : (byNode.get(node)?.[key] ?? `(relfilenode ${node})`));
      const top = (sums, count) =>
        Object.fromEntries(Object.entries(sums).sort((a, b) => b[1] - a[1]).slice(0, count).map(([k, v]) => [k, round(v / Math.max(n, 1))]));
      const byTable = {};
      const byRecord = {};
      for (const r of rows) {
        byTable[nameOf(r.node, 'table')] = (byTable[nameOf(r.node, 'table')] ?? 0) + r.records;
        const key = `${nameOf(r.node, 'own')} ${r.kind}`;
        byRecord[key] = (byRecord[key] ?? 0) + r.records;
      }
      return { wal_by_table: top(byTable, 12), ...(walMode === 'records' && { wal_by_record: top(byRecord, 25) }) };
    },
    async close() {
      clearInterval(timer);
      await sampling;
      await pg.end();
      redis.disconnect();
    },
  };
}
