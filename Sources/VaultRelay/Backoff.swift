/// Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped at `cap`.
struct Backoff {
    var attempt = 0
    let cap: Duration

    init(cap: Duration = .seconds(8)) { self.cap = cap }

    mutating func next() -> Duration {
        let base = Duration.milliseconds(500) * (1 << min(attempt, 10))
        attempt += 1
        let capped = min(base, cap)
        let jitter = Double.random(in: 0.8...1.2)
        return capped * jitter
    }
}
