// Real Node.js clients through slotgate, one scenario per run (tests/integration/test_node.c starts the
// cluster, slotgate and a plain redis-server as the oracle, then runs `node scenarios.mjs NAME`).
// Environment: SG_PORT (slotgate), ORACLE_PORT (one redis-server), NODE_PORTS (the masters, comma separated).
// Exit status 0 when the scenario held; otherwise what differed is printed.
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { GlideClient, GlideClusterClient, GlideClientConfiguration } from '@valkey/valkey-glide';
import { readFileSync } from 'node:fs';

const SG = +process.env.SG_PORT;
const ORACLE = +process.env.ORACLE_PORT;
const NODES = (process.env.NODE_PORTS || '').split(',').filter(Boolean).map(Number);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function nodeRedis(port, opts = {}) {
    const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, ...opts });
    c.on('error', (e) => console.error(`client error (port ${port}):`, e.message));
    await c.connect();
    return c;
}

// The master that holds key: the one node that takes a write of it without MOVED.
async function masterOf(key) {
    for (const port of NODES) {
        const d = await nodeRedis(port);
        try {
            await d.sendCommand(['EXISTS', key]);
            return d;
        } catch (e) {
            await d.quit();
            if (!/MOVED/.test(e.message)) throw e;
        }
    }
    throw new Error(`no master takes ${key}`);
}

// Polls fn until it returns want (deepEqual) or ms pass; returns the last value.
async function until(fn, want, ms = 3000) {
    let v;
    for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) {
        v = await fn();
        try {
            assert.deepStrictEqual(v, want);
            return v;
        } catch {}
    }
    return v;
}

const scenarios = {
    // node-redis with RESP: 3: every reply decoded into the same values from slotgate as from one Redis.
    async noderedis_resp3_replies() {
        const run = async (port) => {
            const c = await nodeRedis(port, { RESP: 3 });
            await c.del(['nr3:h', 'nr3:z', 'nr3:s', 'nr3:a', 'nr3:b', 'nr3:l']);
            await c.hSet('nr3:h', { f1: 'v1', f2: 'v2' });
            await c.zAdd('nr3:z', [{ score: 1.5, value: 'm1' }, { score: 2, value: 'm2' }]);
            await c.sAdd('nr3:s', 'only');
            await c.mSet({ 'nr3:a': '1', 'nr3:b': '2' });
            await c.rPush('nr3:l', ['x', 'y']);
            const out = {
                hello: (({ proto, server, mode, role }) => ({ proto, server, mode, role }))(await c.hello()),
                hgetall: await c.hGetAll('nr3:h'),
                zscore: await c.zScore('nr3:z', 'm1'),
                zincr: await c.zIncrBy('nr3:z', 0.25, 'm1'),
                zrange: await c.zRangeWithScores('nr3:z', 0, -1),
                smembers: await c.sMembers('nr3:s'),
                sismember: await c.sIsMember('nr3:s', 'only'),
                mget: await c.mGet(['nr3:a', 'nr3:none', 'nr3:b']),
                missing: await c.get('nr3:none'),
                exists: await c.exists(['nr3:a', 'nr3:b', 'nr3:none']),
                lpop: await c.lPopCount('nr3:l', 5),
                config: await c.configGet('maxmemory'),
                incrbyfloat: await c.incrByFloat('nr3:f', 0),
                pipeline: await c.multi().set('nr3:p', '1').incr('nr3:p').get('nr3:p').exec(),
                raw: await c.sendCommand(['HRANDFIELD', 'nr3:none', '1']),
            };
            await c.quit();
            return out;
        };
        const [got, want] = [await run(SG), await run(ORACLE)];
        assert.deepStrictEqual(got, want);
        console.log('replies as one redis-server gives them:', Object.keys(got).join(', '));
    },

    // node-redis clientSideCache: reads served from the client's cache until the key changes, by another
    // client through slotgate or straight on its node; then the new value.
    async noderedis_client_side_cache() {
        const c = await nodeRedis(SG, { RESP: 3, clientSideCache: { ttl: 0, maxEntries: 0 } });
        const w = await nodeRedis(SG);
        const key = 'nr3:cached';
        await w.set(key, 'v1');
        assert.equal(await c.get(key), 'v1');
        for (let i = 0; i < 20; i++) assert.equal(await c.get(key), 'v1');
        let s = c.clientSideCache.stats();
        assert.equal(s.missCount, 1, 'one read went to the server');
        assert.ok(s.hitCount >= 20, `hits ${s.hitCount}`);
        await w.set(key, 'v2'); // through slotgate
        assert.equal(await until(() => c.get(key), 'v2'), 'v2', 'stale after a write through slotgate');
        const d = await masterOf(key);
        await d.set(key, 'v3'); // straight to the node
        assert.equal(await until(() => c.get(key), 'v3'), 'v3', 'stale after a write on the node');
        await d.quit();
        const before = c.clientSideCache.stats().hitCount;
        for (let i = 0; i < 10; i++) assert.equal(await c.get(key), 'v3');
        s = c.clientSideCache.stats();
        assert.ok(s.hitCount >= before + 10, 'served from the cache again once read again');
        // keys on every master
        const keys = [];
        for (let i = 0; keys.length < 3 && i < 1000; i++) {
            const k = `nr3:m${i}`;
            const n = await masterOf(k);
            const port = n.options.socket.port;
            await n.quit();
            if (!keys.some((x) => x.port === port)) keys.push({ k, port });
        }
        for (const { k } of keys) {
            await w.set(k, 'a');
            assert.equal(await c.get(k), 'a');
            assert.equal(await c.get(k), 'a');
            await w.set(k, 'b');
            assert.equal(await until(() => c.get(k), 'b'), 'b', `stale ${k}`);
        }
        console.log('cache stats:', JSON.stringify(c.clientSideCache.stats()));
        await c.quit();
        await w.quit();
    },

    // node-redis RESP3 pub/sub: channels, patterns and shard channels arrive as pushes.
    async noderedis_pubsub() {
        const sub = await nodeRedis(SG, { RESP: 3 });
        const pub = await nodeRedis(SG);
        const got = [];
        await sub.subscribe('nr3:ch', (m, ch) => got.push(`${ch}:${m}`));
        await sub.pSubscribe('nr3:p*', (m, ch) => got.push(`p ${ch}:${m}`));
        await sub.sSubscribe('nr3:sch', (m, ch) => got.push(`s ${ch}:${m}`));
        assert.equal(await pub.publish('nr3:ch', 'hello'), 1);
        assert.equal(await pub.publish('nr3:px', 'hi'), 1);
        assert.equal(await pub.sPublish('nr3:sch', 'shard'), 1);
        await until(() => got.length, 3);
        assert.deepStrictEqual(got.sort(), ['nr3:ch:hello', 'p nr3:px:hi', 's nr3:sch:shard']);
        await sub.unsubscribe('nr3:ch');
        assert.equal(await pub.publish('nr3:ch', 'gone'), 0);
        await sub.quit();
        await pub.quit();
    },

    // Valkey GLIDE's standalone client (RESP3 by default) against slotgate as one server.
    async glide_standalone() {
        const received = [];
        const g = await GlideClient.createClient({
            addresses: [{ host: '127.0.0.1', port: SG }],
            requestTimeout: 3000,
        });
        const sub = await GlideClient.createClient({
            addresses: [{ host: '127.0.0.1', port: SG }],
            requestTimeout: 3000,
            pubsubSubscriptions: {
                channelsAndPatterns: {
                    [GlideClientConfiguration.PubSubChannelModes.Exact]: new Set(['gl:ch']),
                },
                callback: (msg) => received.push(`${msg.channel}:${msg.message}`),
            },
        });
        assert.equal(await g.set('gl:a', '1'), 'OK');
        assert.equal(await g.get('gl:a'), '1');
        assert.deepStrictEqual(await g.mget(['gl:a', 'gl:none']), ['1', null]);
        await g.hset('gl:h', { f: 'v' });
        assert.deepStrictEqual(await g.hgetall('gl:h'), [{ field: 'f', value: 'v' }]);
        const info = String(await g.customCommand(['CLIENT', 'INFO']));
        assert.match(info, / resp=3/);
        await sleep(200);
        assert.equal(await g.publish('hello', 'gl:ch'), 1);
        await until(() => received.length, 1);
        assert.deepStrictEqual(received, ['gl:ch:hello']);
        g.close();
        sub.close();
    },

    // Valkey GLIDE's cluster client: it asks CLUSTER SLOTS and keeps everything on slotgate.
    async glide_cluster() {
        const g = await GlideClusterClient.createClient({
            addresses: [{ host: '127.0.0.1', port: SG }],
            requestTimeout: 3000,
        });
        const keys = Array.from({ length: 20 }, (_, i) => `glc:${i}`);
        for (const k of keys) assert.equal(await g.set(k, k), 'OK');
        assert.deepStrictEqual(await g.mget(keys), keys);
        assert.equal(await g.del(keys), keys.length);
        assert.equal(await g.get('glc:none'), null);
        g.close();
    },

    // node-redis over TLS to slotgate's tls-port (TLS_PORT; certificates in TLS_DIR): RESP3, a pipeline,
    // multi-key across masters, pub/sub, client-side caching kept fresh.
    async noderedis_tls() {
        const dir = process.env.TLS_DIR;
        const socket = {
            host: '127.0.0.1',
            port: +process.env.TLS_PORT,
            tls: true,
            ca: readFileSync(`${dir}/ca.crt`),
            cert: readFileSync(`${dir}/client.crt`),
            key: readFileSync(`${dir}/client.key`),
            servername: 'localhost',
            reconnectStrategy: false,
        };
        const open = async (opts = {}) => {
            const c = createClient({ socket, RESP: 3, ...opts });
            c.on('error', (e) => console.error('client error:', e.message));
            await c.connect();
            return c;
        };
        const c = await open();
        const keys = Array.from({ length: 50 }, (_, i) => `ntls:${i}`);
        await Promise.all(keys.map((k) => c.set(k, k.toUpperCase()))); // pipelined
        assert.deepStrictEqual(await c.mGet(keys), keys.map((k) => k.toUpperCase()));
        await c.hSet('ntls:h', { a: '1', b: '2' });
        assert.deepStrictEqual({ ...(await c.hGetAll('ntls:h')) }, { a: '1', b: '2' });
        const sub = await open();
        const got = new Promise((resolve) => sub.subscribe('ntls:chan', (m) => resolve(m)));
        await sleep(100);
        assert.equal(await c.publish('ntls:chan', 'over tls'), 1);
        assert.equal(await got, 'over tls');
        const cached = await open({ clientSideCache: { ttl: 0, maxEntries: 0 } });
        await c.set('ntls:cached', 'v1');
        assert.equal(await cached.get('ntls:cached'), 'v1');
        await c.set('ntls:cached', 'v2');
        assert.equal(await until(() => cached.get('ntls:cached'), 'v2'), 'v2');
        assert.equal(await c.del(keys), keys.length);
        for (const x of [c, sub, cached]) await x.quit();
    },
};

const name = process.argv[2];
if (!scenarios[name]) {
    console.error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(' ')}`);
    process.exit(2);
}
const timer = setTimeout(() => {
    console.error(`${name}: did not finish in 60 s`);
    process.exit(1);
}, 60000);
try {
    await scenarios[name]();
    clearTimeout(timer);
    console.log(`${name}: ok`);
    process.exit(0);
} catch (e) {
    console.error(`${name}: FAILED\n`, e);
    process.exit(1);
}
