// Dates without a clock: only fixed instants and UTC methods (Date.now() and
// local-time methods depend on the host; the harness also sets TZ=UTC).
fp.define({
  run() {
    const instants = [0, -1, 1e12, 8.64e15, -8.64e15, 951782400000, 1709210096789];
    return {
      iso: instants.map((t) => new Date(t).toISOString()),
      utc: instants.map((t) => new Date(t).toUTCString()),
      parts: instants.map((t) => { const d = new Date(t); return [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCDay(), d.getUTCHours(), d.getUTCMilliseconds()]; }),
      built: [Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(99, 0), Date.UTC(275760, 8, 13), Date.UTC(2024, 13, 40)],
      parsed: ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.123+05:30', '2024-02-29', '+275760-09-13T00:00:00.000Z', 'not a date', '2024-13-01'].map((s) => Date.parse(s)),
      invalid: String(new Date(NaN)),
      json: JSON.stringify({ d: new Date(1e12) }),
      setters: (() => { const d = new Date(0); d.setUTCMonth(14, 31); d.setUTCHours(25); return d.toISOString(); })(),
    };
  },
  resume() {
    return new Date(Date.UTC(2000, 0, 1) + 86400000 * 366).toISOString();
  },
});
