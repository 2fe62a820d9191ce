// DATAFLOW regions, written once for synthesis, sequential C-simulation and
// concurrent C-simulation (docs/kernel.md, "Simulating the dataflow").
//
// A region is written as
//
//     #pragma HLS DATAFLOW
//     hls::stream<T> s;
//     #pragma HLS STREAM variable=s depth=8
//     EIE_DATAFLOW_BEGIN("layer_pass");
//     EIE_PROCESS("producer", producer(s));
//     EIE_PROCESS("consumer", consumer(s));
//     EIE_DATAFLOW_END();
//
// - Synthesis and sequential C-simulation: EIE_PROCESS(name, call) is the
//   call, BEGIN and END are nothing, hls::stream is Xilinx's (unbounded in
//   C-simulation), so the processes run one after another in program order.
// - Concurrent C-simulation (EIE_CSIM_CONCURRENT, eie.kernel.csim): every
//   EIE_PROCESS runs in its own thread, started at its statement, and END
//   joins them. hls::stream is the bounded FIFO below: a write blocks while it
//   holds its depth, a read while it is empty, empty() and full() answer for
//   that instant. The depth is what the STREAM pragma declares: the build
//   (eie.kernel.dataflow) adds EIE_DF_STREAM(var, depth) after every STREAM
//   pragma, and names every stream a region declares; a stream without a
//   pragma keeps Vitis HLS's default depth of 2.
//   END reports, naming the processes and streams, a deadlock (every process
//   blocked on a stream, or no stream moved for the timeout) and tokens left
//   in a stream when every process has returned.
//   Optional perturbations explore other interleavings: jitter (random yields
//   and short sleeps at stream accesses, from a seed) and one process slowed
//   down by name.
// What this proves and what it does not: functional behaviour under any
// interleaving at the declared depths. Not cycle timing or II: a thread does
// one pipelined iteration's several stream accesses one after another, where
// hardware stalls them together.
#ifndef EIE_DATAFLOW_HPP
#define EIE_DATAFLOW_HPP

#if !defined(EIE_CSIM_CONCURRENT) || defined(__SYNTHESIS__)

#include <hls_stream.h>

#define EIE_DATAFLOW_BEGIN(name)
#define EIE_PROCESS(name, ...) __VA_ARGS__
#define EIE_DATAFLOW_END()
#define EIE_DF_STREAM(var, depth)

#else  // concurrent C-simulation

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace eie {
namespace df {

class stream_base;
struct Region;

// What a process is doing, for the deadlock report.
enum class State { running, reading, writing, polling, done };

struct Process {
    std::string name;
    Region* region = nullptr;
    State state = State::running;
    const stream_base* on = nullptr;  // the stream it waits on
    std::mt19937_64 rng;
    bool slow = false;
    unsigned idle_polls = 0;  // empty()/full() answers in a row that found nothing
};

// Thrown inside a process when its region is aborted (deadlock), and out of
// EIE_DATAFLOW_END to the caller of the kernel with the report.
struct Failure : std::exception {
    std::string what_;
    explicit Failure(std::string w) : what_(std::move(w)) {}
    const char* what() const noexcept override { return what_.c_str(); }
};
struct Abort {};

// Settings from the host (eie_df_configure in the bridge).
struct Settings {
    uint64_t seed = 0;
    int jitter = 0;           // 0 off; otherwise one access in `jitter` yields, one in 8*jitter sleeps
    std::string slow;         // a process name ("broadcast", "pe3", "stream_fetch", ...) or empty
    int slow_us = 200;        // its delay before every stream access
    int timeout_ms = 10000;   // no stream moved for this long while processes poll: deadlock
};

// All streams share one lock: the simulation is about orderings, not speed.
struct Global {
    std::mutex m;
    std::condition_variable cv;
    uint64_t moves = 0;  // successful reads and writes, every region
    Settings settings;
    std::vector<stream_base*> declared;  // constructed, not yet adopted by a region
};
inline Global& global() {
    static Global g;
    return g;
}
inline Process*& self() {
    static thread_local Process* p = nullptr;
    return p;
}

class stream_base {
  public:
    std::string name = "stream";
    int depth = 2;  // Vitis HLS's default FIFO depth
    Region* region = nullptr;
    std::condition_variable cv;  // its reader and writer wait here
    virtual size_t count() const = 0;
    virtual ~stream_base();
};

struct Region {
    std::string name;
    std::vector<std::unique_ptr<Process>> procs;
    std::vector<std::thread> threads;
    std::vector<stream_base*> streams;
    int live = 0;         // processes not yet returned
    bool sealed = false;  // every process started (END reached): a deadlock can be judged
    bool aborted = false;
    std::string failure;
};

inline stream_base::~stream_base() {
    Global& g = global();
    std::lock_guard<std::mutex> lock(g.m);
    for (size_t i = 0; i < g.declared.size(); i++)
        if (g.declared[i] == this) {
            g.declared.erase(g.declared.begin() + long(i));
            break;
        }
    if (region)
        for (size_t i = 0; i < region->streams.size(); i++)
            if (region->streams[i] == this) {
                region->streams.erase(region->streams.begin() + long(i));
                break;
            }
}

inline const char* state_name(State s) {
    switch (s) {
        case State::running: return "running";
        case State::reading: return "blocked reading";
        case State::writing: return "blocked writing";
        case State::polling: return "polling";
        default: return "returned";
    }
}

// The processes and their streams, one per line (the lock is held).
inline std::string describe(const Region& r) {
    std::ostringstream o;
    for (const auto& p : r.procs) {
        o << "  " << p->name << ": " << state_name(p->state);
        if (p->on && p->state != State::done && p->state != State::running)
            o << " " << p->on->name << " (" << p->on->count() << "/" << p->on->depth << ")";
        o << "\n";
    }
    return o.str();
}

// Stops every process of the region at its next stream access (the lock is held).
inline void abort(Region& r, const std::string& why) {
    if (r.aborted) return;
    r.aborted = true;
    r.failure = why;
    for (stream_base* s : r.streams) s->cv.notify_all();
    global().cv.notify_all();
}

// A process waits in vain while its stream is still empty (a read) or full
// (a write): one woken but not yet running again is not blocked.
inline bool stuck(const Process& p) {
    if (p.state == State::reading) return p.on->count() == 0;
    if (p.state == State::writing) return int(p.on->count()) >= p.on->depth;
    return false;
}

// Deadlock: every process that has not returned waits in vain (the lock is held).
inline void judge_deadlock(Region& r, const char* what) {
    if (!r.sealed || r.live == 0 || r.aborted) return;
    for (const auto& p : r.procs)
        if (p->state != State::done && !stuck(*p)) return;
    abort(r, "deadlock in DATAFLOW region " + r.name + ": " + what + "\n" + describe(r));
}

// Jitter and the slowed process, before a stream access (the lock is not held).
inline void perturb() {
    Process* p = self();
    if (!p) return;
    const Settings& s = global().settings;
    if (p->slow) std::this_thread::sleep_for(std::chrono::microseconds(s.slow_us));
    if (s.jitter > 0) {
        const uint64_t r = p->rng();
        if (r % uint64_t(8 * s.jitter) == 0)
            std::this_thread::sleep_for(std::chrono::microseconds(1 + (r >> 32) % 50));
        else if (r % uint64_t(s.jitter) == 0)
            std::this_thread::yield();
    }
}

// A process about to wait: a deadlock when every live process of its region
// is now blocked (the lock is held).
inline void enter_wait(std::unique_lock<std::mutex>& lock, State st, const stream_base* on) {
    Process* p = self();
    if (!p) return;
    p->state = st;
    p->on = on;
    Region& r = *p->region;
    if (r.aborted) throw Abort();
    judge_deadlock(r, "every process is blocked");
    if (r.aborted) throw Abort();
    (void)lock;
}
inline void leave_wait() {
    Process* p = self();
    if (!p) return;
    p->state = State::running;
    p->on = nullptr;
}

inline void check_abort() {
    Process* p = self();
    if (p && p->region->aborted) throw Abort();
}

// Streams declared since the region began, named and sized by EIE_DF_STREAM.
template <class S>
inline void declare_one(S& s, const std::string& name, int depth) {
    std::lock_guard<std::mutex> lock(global().m);
    s.name = name;
    s.depth = depth < 1 ? 1 : depth;
}
template <class S>
inline void declare(S& s, const char* name, int depth) {
    declare_one(s, name, depth);
}
template <class S, size_t n>
inline void declare(S (&a)[n], const char* name, int depth) {
    for (size_t i = 0; i < n; i++) declare_one(a[i], std::string(name) + "[" + std::to_string(i) + "]", depth);
}

inline Region* begin(const char* name) {
    Global& g = global();
    std::lock_guard<std::mutex> lock(g.m);
    Region* r = new Region();
    r->name = name;
    r->streams = g.declared;  // the region's own streams: declared in its body
    g.declared.clear();
    for (stream_base* s : r->streams) s->region = r;
    return r;
}

inline void spawn(Region* r, const char* name, std::function<void()> body) {
    Global& g = global();
    Process* p;
    {
        std::lock_guard<std::mutex> lock(g.m);
        r->procs.emplace_back(new Process());
        p = r->procs.back().get();
        p->name = name;
        p->region = r;
        p->slow = !g.settings.slow.empty() && g.settings.slow == p->name;
        p->rng.seed(g.settings.seed * 0x9E3779B97F4A7C15ULL + std::hash<std::string>()(p->name));
        r->live++;
    }
    r->threads.emplace_back([p, body]() {
        self() = p;
        std::string error;
        try {
            body();
        } catch (const Abort&) {
        } catch (const std::exception& e) {
            error = e.what();
        }
        Global& g = global();
        std::lock_guard<std::mutex> lock(g.m);
        p->state = State::done;
        p->on = nullptr;
        Region& reg = *p->region;
        reg.live--;
        if (!error.empty()) abort(reg, "process " + p->name + " of DATAFLOW region " + reg.name + " failed: " + error + "\n");
        // The last running process may leave the others all blocked.
        judge_deadlock(reg, "every process still running is blocked");
        g.cv.notify_all();
    });
}

// Waits for every process (watching for a deadlock among polling processes),
// then checks that every stream is empty; throws Failure with the report.
inline void end(Region* r) {
    Global& g = global();
    {
        std::unique_lock<std::mutex> lock(g.m);
        r->sealed = true;
        judge_deadlock(*r, "every process is blocked");
        uint64_t seen = g.moves;
        auto last_move = std::chrono::steady_clock::now();
        while (r->live > 0) {
            g.cv.wait_for(lock, std::chrono::milliseconds(20));
            if (g.moves != seen) {
                seen = g.moves;
                last_move = std::chrono::steady_clock::now();
            } else if (std::chrono::steady_clock::now() - last_move > std::chrono::milliseconds(g.settings.timeout_ms)) {
                abort(*r, "deadlock in DATAFLOW region " + r->name + ": no stream moved for " +
                              std::to_string(g.settings.timeout_ms) + " ms\n" + describe(*r));
            }
        }
    }
    for (auto& t : r->threads) t.join();
    std::string failure;
    {
        std::lock_guard<std::mutex> lock(g.m);
        failure = r->failure;
        if (failure.empty()) {
            std::ostringstream o;
            for (stream_base* s : r->streams)
                if (s->count() != 0) o << "  " << s->name << ": " << s->count() << " token(s)\n";
            if (!o.str().empty()) failure = "tokens left when DATAFLOW region " + r->name + " ended:\n" + o.str();
        }
        for (stream_base* s : r->streams) s->region = nullptr;
    }
    delete r;
    if (!failure.empty()) throw Failure(failure);
}

}  // namespace df
}  // namespace eie

namespace hls {

// hls::stream as a bounded FIFO shared by threads (the interface of Xilinx's
// hls_stream.h that the kernel uses).
template <typename T>
class stream : public eie::df::stream_base {
    std::deque<T> q;

    void moved() {
        eie::df::global().moves++;
        cv.notify_all();
        busy();
    }
    // The process found what it polled for, or moved a token: no longer polling.
    static void busy() {
        eie::df::Process* p = eie::df::self();
        if (!p) return;
        p->idle_polls = 0;
        if (p->state == eie::df::State::polling) {
            p->state = eie::df::State::running;
            p->on = nullptr;
        }
    }
    // A process that keeps finding nothing is "polling" this stream (the
    // reports say so) and gives the others the processor until the stream
    // moves or a short while passes.
    void idle(std::unique_lock<std::mutex>& lock) {
        eie::df::Process* p = eie::df::self();
        if (!p) return;
        p->state = eie::df::State::polling;
        p->on = this;
        if (++p->idle_polls % 64 == 0) cv.wait_for(lock, std::chrono::microseconds(200));
    }

  public:
    stream() {
        eie::df::Global& g = eie::df::global();
        std::lock_guard<std::mutex> lock(g.m);
        g.declared.push_back(this);
    }
    explicit stream(const char* n) : stream() { name = n; }
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;

    size_t count() const override { return q.size(); }

    void write(const T& v) {
        eie::df::perturb();
        eie::df::Global& g = eie::df::global();
        std::unique_lock<std::mutex> lock(g.m);
        eie::df::check_abort();
        if (int(q.size()) >= depth) {
            eie::df::enter_wait(lock, eie::df::State::writing, this);
            while (int(q.size()) >= depth) {
                cv.wait(lock);
                if (eie::df::self() && eie::df::self()->region->aborted) {
                    eie::df::leave_wait();
                    throw eie::df::Abort();
                }
            }
            eie::df::leave_wait();
        }
        q.push_back(v);
        moved();
    }
    T read() {
        eie::df::perturb();
        eie::df::Global& g = eie::df::global();
        std::unique_lock<std::mutex> lock(g.m);
        eie::df::check_abort();
        if (q.empty()) {
            eie::df::enter_wait(lock, eie::df::State::reading, this);
            while (q.empty()) {
                cv.wait(lock);
                if (eie::df::self() && eie::df::self()->region->aborted) {
                    eie::df::leave_wait();
                    throw eie::df::Abort();
                }
            }
            eie::df::leave_wait();
        }
        T v = q.front();
        q.pop_front();
        moved();
        return v;
    }
    void read(T& v) { v = read(); }
    void operator>>(T& v) { v = read(); }
    void operator<<(const T& v) { write(v); }
    bool empty() {
        eie::df::perturb();
        std::unique_lock<std::mutex> lock(eie::df::global().m);
        eie::df::check_abort();
        const bool e = q.empty();
        if (e)
            idle(lock);
        else
            busy();
        return e;
    }
    bool full() {
        eie::df::perturb();
        std::unique_lock<std::mutex> lock(eie::df::global().m);
        eie::df::check_abort();
        const bool f = int(q.size()) >= depth;
        if (f)
            idle(lock);
        else
            busy();
        return f;
    }
    bool read_nb(T& v) {
        if (empty()) return false;
        v = read();
        return true;
    }
    bool write_nb(const T& v) {
        if (full()) return false;
        write(v);
        return true;
    }
    size_t size() {
        std::lock_guard<std::mutex> lock(eie::df::global().m);
        return q.size();
    }
};

}  // namespace hls

#define EIE_DATAFLOW_BEGIN(name) eie::df::Region* eie_df_region_ = eie::df::begin(name)
#define EIE_PROCESS(name, ...) eie::df::spawn(eie_df_region_, name, [&]() { __VA_ARGS__; })
#define EIE_DATAFLOW_END() eie::df::end(eie_df_region_)
#define EIE_DF_STREAM(var, depth) eie::df::declare(var, #var, depth)

#endif  // EIE_CSIM_CONCURRENT

#endif
