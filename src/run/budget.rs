//! The one rate budget every request draws from: suite lookups, run creation, polling and
//! retries alike. Spending is paced across the window: at most a sixth of the limit goes in a
//! burst, and each request's slot comes back a sixth of the window later (`window / limit`
//! per request, the same long-run rate). So no window of any length a server plausibly counts
//! in (a sliding or fixed minute, ten seconds, a token bucket holding ten seconds' worth) sees
//! more than its share, while a short gate still sends its first requests at once. A 429's
//! `Retry-After` pauses everyone until then, and no later, including requests permitted before
//! it and not sent yet ([`Permit::confirm`]). The limit follows the server's
//! `X-RateLimit-Limit` (`auto`) or is a hard cap, and requests the server counts that we did not
//! send (another job on the same key) take our slots.
//!
//! A request counts from its answer, not from its permit: the server counts it when it arrives,
//! some moment between the send and the answer that nobody here can see. A request that stalls
//! on its way (a busy CPU, a slow connection) would otherwise arrive bunched with the ones
//! permitted after it, and a window the budget thought fine would hold more than the limit. So
//! a permit holds its slot as if sent at every instant until its answer comes back (or the
//! permit is dropped), and the slot is given back a window after that. The cost is one round
//! trip per window per slot: milliseconds against Kapso's minute.
//!
//! Why not a GCRA, or the `governor` crate: a GCRA with a burst of B that is followed by steady
//! spending puts B - 1 requests more than its share into every short window (ten seconds of a
//! minute), so it either has no burst at all (and a gate of three cases waits two seconds for
//! its third request) or is refused by a server that counts in short windows; a burst that is
//! paid back (a sliding sub-window) has neither problem. `governor` is a GCRA, its quota is
//! fixed when the limiter is built (following `X-RateLimit-Limit` would mean a new limiter that
//! forgets what was spent), and it has no shared pause and no way to count another job's
//! requests: all three are what this budget is for.

use crate::input::settings::Limit;
use crate::input::shard::share_of;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

/// Proof that a request may be sent now. Only the budget makes one ([`RateBudget::acquire`],
/// or [`RateBudget::try_acquire`] for callers that wait themselves), and every client method
/// that sends takes one, so no request can bypass the budget. Its slot is taken until the
/// request is answered ([`Permit::answered`]) or the permit dropped, and counts from then.
#[derive(Debug)]
#[must_use = "a permit is spent by sending a request"]
pub struct Permit {
    budget: Arc<RateBudget>,
    issued: Instant,
    answered: Option<Instant>,
}

impl Permit {
    /// Waits out a pause that began after the permit was issued (a 429 that came back to
    /// another request meanwhile): confirmed just before the send, the permit never sends a
    /// request into a pause the server asked for.
    pub async fn confirm(&self) {
        loop {
            let paused_until = self.budget.lock().paused_until;
            match paused_until {
                Some(until) if until > Instant::now() => sleep_until(until).await,
                _ => return,
            }
        }
    }

    /// The request's answer (or its failure) came at `at`: the server has counted it by then,
    /// so its slot counts from `at` and is given back a window later.
    pub fn answered(mut self, at: Instant) {
        self.answered = Some(at);
    }
}

impl Drop for Permit {
    /// A permit dropped without an answer (a cancelled request) may have been sent: it counts
    /// from now. Never from before it was issued.
    fn drop(&mut self) {
        let at = self.answered.unwrap_or_else(Instant::now).max(self.issued);
        self.budget.release(at);
    }
}

/// Requests another client spent, as the server's headers revealed them.
#[derive(Debug, Clone, Copy)]
struct Foreign {
    /// Holds one of our burst slots until then.
    blocks_until: Instant,
    /// Counted as known (not news) until then.
    known_until: Instant,
}

#[derive(Debug)]
struct State {
    /// Requests allowed per window now; 0 = unlimited.
    limit: u32,
    /// Nobody sends before this instant (a 429's Retry-After).
    paused_until: Option<Instant>,
    /// When our answered requests were answered, within the last window.
    sent: VecDeque<Instant>,
    /// Permits out whose requests are not answered yet: each counts as sent at every instant.
    in_flight: usize,
    foreign: Vec<Foreign>,
}

/// A shared, cancel-safe rate budget.
#[derive(Debug)]
pub struct RateBudget {
    state: Mutex<State>,
    mode: Limit,
    /// How many gates share the key's limit at the same time (CI shards, `--shard K/N`): this
    /// one spends 1/share of every limit, and the others' requests up to their shares are not
    /// foreign. 1 for a gate alone.
    share: u32,
    window: Duration,
    /// Added to the window so that requests that arrive a little closer together than they
    /// were sent (network jitter) still fit any window the server counts in.
    margin: Duration,
}

/// The share of the limit that may go at once, as a divisor: a sixth, ten seconds of a minute.
const BURST_DIVISOR: u32 = 6;

impl RateBudget {
    /// A budget of `limit` requests per `window`.
    pub fn new(limit: Limit, window: Duration) -> Self {
        RateBudget::shared(limit, window, 1)
    }

    /// A budget of a `share`-th of `limit` (and of whatever limit the server announces), for
    /// one of `share` gates that run on the same key at the same time.
    pub fn shared(limit: Limit, window: Duration, share: u32) -> Self {
        let share = share.max(1);
        RateBudget {
            state: Mutex::new(State {
                limit: share_of(limit.start(), share),
                paused_until: None,
                sent: VecDeque::new(),
                in_flight: 0,
                foreign: Vec::new(),
            }),
            mode: limit,
            share,
            window,
            margin: (window / 25).min(Duration::from_secs(2)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The burst at `limit` and how long each request holds its slot: `burst` slots per
    /// `hold` is `limit` per window (plus the margin).
    fn burst(&self, limit: u32) -> (usize, Duration) {
        let burst = (limit / BURST_DIVISOR).max(1);
        (burst as usize, (self.window + self.margin) * burst / limit.max(1))
    }

    /// Waits until a request may be sent and records it. Cancel-safe: dropping the future
    /// before it resolves spends nothing.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            match self.try_acquire(Instant::now()) {
                Ok(permit) => return permit,
                Err(ready_at) => sleep_until(ready_at).await,
            }
        }
    }

    /// Takes a slot at `now`, or says when one may free up (no sooner; a request still
    /// unanswered then holds its slot longer).
    pub fn try_acquire(self: &Arc<Self>, now: Instant) -> Result<Permit, Instant> {
        let mut state = self.lock();
        self.forget_old(&mut state, now);
        let ready = self.ready(&state, now);
        if ready > now {
            return Err(ready);
        }
        state.paused_until = None;
        state.in_flight += 1;
        Ok(Permit {
            budget: Arc::clone(self),
            issued: now,
            answered: None,
        })
    }

    /// A permit's request was answered (or abandoned) at `at`.
    fn release(&self, at: Instant) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.limit > 0 {
            state.sent.push_back(at);
        }
    }

    /// Our requests that count at `now`: the answered ones when they were answered, the
    /// unanswered ones as if sent now (they may reach the server at any moment).
    fn ours(state: &State, now: Instant) -> impl Iterator<Item = Instant> + '_ {
        state
            .sent
            .iter()
            .copied()
            .chain(std::iter::repeat_n(now, state.in_flight))
    }

    /// When the next slot is free: when enough of the slots held now are given back.
    fn ready(&self, state: &State, now: Instant) -> Instant {
        let paused = state.paused_until.unwrap_or(now).max(now);
        if state.limit == 0 {
            return paused;
        }
        let (burst, hold) = self.burst(state.limit);
        let mut frees: Vec<Instant> = Self::ours(state, now)
            .map(|t| t + hold)
            .chain(state.foreign.iter().map(|f| f.blocks_until))
            .filter(|t| *t > now)
            .collect();
        let mut ready = paused;
        if frees.len() >= burst {
            frees.sort_unstable();
            ready = ready.max(frees[frees.len() - burst]);
        }
        // The sub-windows add up to the window only when the burst divides the limit: the
        // window's own count holds the rest.
        let limit = state.limit as usize;
        let in_window = state.sent.len() + state.in_flight + state.foreign.len();
        if in_window >= limit {
            let horizon = self.window + self.margin;
            let mut leaves: Vec<Instant> = Self::ours(state, now)
                .map(|t| t + horizon)
                .chain(state.foreign.iter().map(|f| f.known_until))
                .collect();
            leaves.sort_unstable();
            ready = ready.max(leaves[in_window - limit]);
        }
        ready
    }

    /// When the next request could be sent, without spending anything.
    pub fn ready_at(&self, now: Instant) -> Instant {
        self.ready(&self.lock(), now)
    }

    /// Pauses every request until `until` (a 429's Retry-After). Never shortens a pause.
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.lock();
        if state.paused_until.is_none_or(|t| t < until) {
            state.paused_until = Some(until);
        }
    }

    fn forget_old(&self, state: &mut State, now: Instant) {
        let horizon = self.window + self.margin;
        // Answers may be recorded a little out of order (threads race to the lock).
        state.sent.retain(|t| now.saturating_duration_since(*t) < horizon);
        state.foreign.retain(|f| f.known_until > now);
    }

    /// Learns from the server's rate headers. `limit` (`X-RateLimit-Limit`) becomes ours in
    /// `auto` mode and lowers a cap. When the server counts more requests in its window than we
    /// sent (`limit - remaining` above our own count: another job on the same key), each extra
    /// request takes one of our slots. `reset` is when the server said its window frees up
    /// (`X-RateLimit-Reset`): those requests are taken to leave the window then, so Remaining
    /// can slow the gate down but never hold it beyond the reset the server announced.
    pub fn observe(&self, limit: Option<u32>, remaining: Option<u32>, reset: Option<Duration>, now: Instant) {
        let mut state = self.lock();
        if let Some(server) = limit.filter(|l| *l > 0) {
            state.limit = share_of(
                match self.mode {
                    Limit::Auto(_) | Limit::Cap(0) => server,
                    Limit::Cap(cap) => cap.min(server),
                },
                self.share,
            );
        }
        let (Some(remaining), true) = (remaining, state.limit > 0) else {
            return;
        };
        self.forget_old(&mut state, now);
        let server_limit = limit.unwrap_or(state.limit * self.share) as usize;
        let used_by_server = server_limit.saturating_sub(remaining as usize);
        // Sibling shards spend their own shares of the same window: only beyond those is a
        // request another job's.
        let siblings = server_limit - server_limit / self.share as usize;
        let known = state.sent.len() + state.in_flight + state.foreign.len() + siblings;
        let extra = used_by_server.saturating_sub(known);
        let horizon = self.window + self.margin;
        let (_, hold) = self.burst(state.limit);
        let cap = |d: Duration| now + reset.map_or(d, |r| r.min(d));
        let foreign = Foreign {
            blocks_until: cap(hold),
            known_until: cap(horizon),
        };
        state.foreign.extend(std::iter::repeat_n(foreign, extra));
    }

    /// A 429 with its `Retry-After`: nobody sends before it passes, and from then on the budget
    /// resumes (the refused request was not counted by the server).
    pub fn refused(&self, retry_after: Duration, limit: Option<u32>, now: Instant) {
        self.observe(limit, None, None, now);
        self.pause_until(now + retry_after);
    }

    /// The limit in force (after adaptation); 0 = unlimited.
    pub fn limit(&self) -> u32 {
        self.lock().limit
    }
}

/// A lower bound of the time the last of `requests` needs under `limit` per `window`, whatever
/// the server's counting: the first `limit` at once, each later batch one window after the
/// previous (a server that counts a sliding minute allows no better). The paced budget itself
/// spreads them: `(requests - 1) * window / limit`.
pub fn min_time_under_budget(requests: usize, limit: u32, window: Duration) -> Duration {
    if limit == 0 || requests == 0 {
        return Duration::ZERO;
    }
    let batches = (requests - 1) / limit as usize;
    window * u32::try_from(batches).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    /// Sends as fast as the budget allows from `t0` and returns the send times.
    fn drain(budget: &Arc<RateBudget>, t0: Instant, count: usize) -> Vec<Instant> {
        let mut now = t0;
        let mut times = Vec::new();
        while times.len() < count {
            match budget.try_acquire(now) {
                Ok(permit) => {
                    permit.answered(now);
                    times.push(now);
                }
                Err(ready) => now = ready,
            }
        }
        times
    }

    /// The most sends within any half-open window `(t - window, t]`.
    fn most_in_any(times: &[Instant], window: Duration) -> usize {
        let mut start = 0;
        let mut most = 0;
        for (end, t) in times.iter().enumerate() {
            while times[start] + window <= *t {
                start += 1;
            }
            most = most.max(end + 1 - start);
        }
        most
    }

    /// Sends `count` requests as fast as the budget allows from `t0`, answered at once but for
    /// the second, which is on its way for `stall` and reaches the server just before its
    /// answer (the worst case). Returns when each request reached the server, in order.
    fn drain_with_a_stall(budget: &Arc<RateBudget>, t0: Instant, count: usize, stall: Duration) -> Vec<Instant> {
        let mut now = t0;
        let mut arrivals = Vec::new();
        let mut stalled: Option<(Permit, Instant)> = None;
        let mut issued = 0;
        while arrivals.len() < count {
            if let Some((permit, at)) = stalled.take_if(|(_, at)| *at <= now) {
                permit.answered(at);
                arrivals.push(at);
            }
            match budget.try_acquire(now) {
                Ok(permit) if issued == 1 => {
                    issued += 1;
                    stalled = Some((permit, now + stall));
                }
                Ok(permit) => {
                    issued += 1;
                    permit.answered(now);
                    arrivals.push(now);
                }
                Err(ready) => now = stalled.as_ref().map_or(ready, |(_, at)| ready.min(*at)),
            }
        }
        arrivals.sort_unstable();
        arrivals
    }

    #[test]
    fn a_request_that_stalls_on_its_way_does_not_let_later_ones_overrun_the_window() {
        // The incident: ten per two seconds, one request held up on its way (a busy CPU, a
        // slow connection) for longer than the margin. Counted from its permit, it arrived
        // bunched with the ten permitted a window after it.
        let window = Duration::from_secs(2);
        for stall in [300, 700, 1_500, 5_000].map(Duration::from_millis) {
            let budget = Arc::new(RateBudget::new(Limit::Cap(10), window));
            let arrivals = drain_with_a_stall(&budget, Instant::now(), 40, stall);
            let most = most_in_any(&arrivals, window);
            assert!(
                most <= 10,
                "{most} requests reached the server within {window:?} after a {stall:?} stall"
            );
        }
    }

    #[test]
    fn an_unanswered_request_holds_its_slot_until_its_answer() {
        let budget = Arc::new(RateBudget::new(Limit::Cap(10), Duration::from_secs(2)));
        let t0 = Instant::now();
        let on_its_way = budget.try_acquire(t0).expect("the first request goes at once");
        let hour = Duration::from_secs(3600);
        assert!(budget.try_acquire(t0 + hour).is_err(), "its slot is still taken");
        on_its_way.answered(t0 + hour);
        let ready = budget.ready_at(t0 + hour);
        assert!(ready > t0 + hour, "the slot counts from the answer");
        assert!(budget.try_acquire(ready).is_ok());
        // A permit dropped without an answer (a cancelled request) gives its slot back too.
        let budget = Arc::new(RateBudget::new(Limit::Cap(10), Duration::from_secs(2)));
        drop(budget.try_acquire(t0).expect("first"));
        assert_eq!(budget.lock().in_flight, 0);
        assert_eq!(budget.lock().sent.len(), 1);
    }

    #[tokio::test]
    async fn a_permit_confirmed_during_a_pause_waits_it_out() {
        let budget = Arc::new(RateBudget::new(Limit::Cap(0), MINUTE));
        let permit = budget.acquire().await;
        let until = Instant::now() + Duration::from_millis(200);
        budget.pause_until(until);
        permit.confirm().await;
        assert!(Instant::now() >= until, "sent into the pause");
        permit.answered(Instant::now());
    }

    #[test]
    fn minimum_time_under_a_sliding_window() {
        assert_eq!(min_time_under_budget(100, 100, MINUTE), Duration::ZERO);
        assert_eq!(min_time_under_budget(120, 100, MINUTE), MINUTE);
        assert_eq!(min_time_under_budget(201, 100, MINUTE), MINUTE * 2);
        assert_eq!(min_time_under_budget(5000, 0, MINUTE), Duration::ZERO);
    }

    #[test]
    fn spending_fits_a_minute_and_ten_seconds_and_starts_with_a_burst() {
        let budget = Arc::new(RateBudget::new(Limit::Cap(120), MINUTE));
        let t0 = Instant::now();
        let times = drain(&budget, t0, 600);
        // A sliding minute, ten seconds and half a minute, each with its share of 120 a minute.
        for (window, share) in [
            (MINUTE, 120),
            (Duration::from_secs(10), 20),
            (Duration::from_secs(30), 60),
        ] {
            let most = most_in_any(&times, window);
            assert!(most <= share, "{most} requests within {window:?}");
        }
        assert_eq!(times.iter().filter(|t| **t == t0).count(), 20, "a sixth goes at once");
        // A limit the burst does not divide: still never more than the limit in a window.
        let budget = Arc::new(RateBudget::new(Limit::Cap(20), Duration::from_secs(2)));
        let times = drain(&budget, t0, 200);
        assert!(most_in_any(&times, Duration::from_secs(2)) <= 20);
        // ... and no slower than the margin requires.
        let span = *times.last().expect("times") - times[0];
        assert!(span < MINUTE * 5 + MINUTE / 20 * 5, "600 requests took {span:?}");
    }

    #[test]
    fn unlimited_never_waits_but_pauses_apply() {
        let budget = Arc::new(RateBudget::new(Limit::Cap(0), MINUTE));
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert!(budget.try_acquire(t0).is_ok());
        }
        budget.pause_until(t0 + Duration::from_secs(2));
        assert_eq!(
            budget.try_acquire(t0 + Duration::from_secs(1)).expect_err("paused"),
            t0 + Duration::from_secs(2)
        );
        assert!(budget.try_acquire(t0 + Duration::from_secs(2)).is_ok());
    }

    #[test]
    fn a_shard_spends_its_share_of_every_limit() {
        let budget = Arc::new(RateBudget::shared(Limit::Auto(100), MINUTE, 3));
        assert_eq!(budget.limit(), 33);
        let t0 = Instant::now();
        budget.observe(Some(600), None, None, t0);
        assert_eq!(budget.limit(), 200, "auto follows the server, a third of it");
        budget.observe(Some(600), Some(600 - 400), None, t0);
        assert!(
            budget.try_acquire(t0).is_ok(),
            "the siblings' 400 requests are their own shares, not another job's"
        );
        assert_eq!(share_of(0, 3), 0, "no limit stays no limit");
        assert_eq!(share_of(2, 3), 1, "never 0, which would mean unlimited");
        for shards in 1..=10 {
            assert!(
                share_of(1000, shards) * shards <= 1000,
                "the shares stay under the limit together"
            );
        }
    }

    #[test]
    fn a_cap_follows_a_lower_server_limit_but_never_a_higher_one() {
        let budget = Arc::new(RateBudget::new(Limit::Cap(100), MINUTE));
        let t0 = Instant::now();
        budget.observe(Some(10), None, None, t0);
        assert_eq!(budget.limit(), 10);
        budget.observe(Some(500), None, None, t0);
        assert_eq!(budget.limit(), 100, "a cap is never exceeded");
    }

    #[test]
    fn auto_follows_the_server_up_and_down() {
        let budget = Arc::new(RateBudget::new(Limit::Auto(100), MINUTE));
        let t0 = Instant::now();
        budget.observe(Some(500), None, None, t0);
        assert_eq!(budget.limit(), 500);
        budget.observe(Some(40), None, None, t0);
        assert_eq!(budget.limit(), 40);
    }

    #[test]
    fn requests_of_another_job_take_our_slots() {
        let budget = Arc::new(RateBudget::new(Limit::Cap(60), MINUTE));
        let t0 = Instant::now();
        assert!(budget.try_acquire(t0).is_ok());
        // We sent 1; the server counts 11: ten of our ten burst slots are gone.
        budget.observe(Some(60), Some(49), None, t0);
        let ready = budget.ready_at(t0);
        assert!(ready >= t0 + Duration::from_secs(10), "ready after {:?}", ready - t0);
        // The same news twice is not counted twice.
        budget.observe(Some(60), Some(49), None, t0);
        assert_eq!(budget.ready_at(t0), ready);
    }

    #[test]
    fn nothing_remaining_holds_until_the_announced_reset_not_a_window() {
        let budget = Arc::new(RateBudget::new(Limit::Cap(100), MINUTE));
        let t0 = Instant::now();
        budget.observe(Some(100), Some(0), Some(Duration::from_secs(2)), t0);
        let ready = budget.ready_at(t0);
        assert!(ready <= t0 + Duration::from_secs(2), "held {:?}", ready - t0);
        assert!(budget.try_acquire(ready).is_ok());
    }

    #[test]
    fn a_refusal_pauses_until_retry_after_and_no_longer() {
        let budget = Arc::new(RateBudget::new(Limit::Cap(100), MINUTE));
        let t0 = Instant::now();
        budget.refused(Duration::from_secs(2), Some(100), t0);
        assert!(budget.try_acquire(t0 + Duration::from_millis(1999)).is_err());
        assert!(budget.try_acquire(t0 + Duration::from_secs(2)).is_ok());
    }
}
