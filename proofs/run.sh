#!/usr/bin/env bash
# proofs/run.sh - prove the pure core modules (src/core) with Frama-C WP.
#
# Usage: proofs/run.sh [options] [module...]
#        modules: flow wbuf stream_sm ring handles theap dgram_sm dgq tls_sm pipe_sm proc_sm
#        (default: all)
#
#   --out DIR              work directory: why3.conf, logs, JSON reports
#                          (default: $AIOTP_PROOF_OUT or ${TMPDIR:-/tmp}/aiotp-proofs)
#   --src DIR              tree holding src/core/ (default: this repository). The mutant
#                          tests point it at a patched copy; proofs/ always comes from here.
#   --timeout N            prover timeout in seconds of a pass that names none (default:
#                          $AIOTP_PROOF_TIMEOUT or 30)
#   --passes P             prover passes, each "provers[:timeout][@steps]" (default:
#                          $AIOTP_PROOF_PASSES or the module's own, passes_of below,
#                          e.g. "z3:10@2000000 cvc4:10@150000 z3,cvc4,cvc5"): WP runs
#                          pass 1 on every goal Qed does not close, each later pass only
#                          on the properties still unproved; a pass without a timeout
#                          gets --timeout. "@steps"
#                          bounds each prover call by the prover's own resource count
#                          (-wp-steps: Z3's rlimit, CVC4's resource units) instead of by the
#                          clock: the same goals pass or fail whatever the machine and its
#                          load; the timeout then only guards against a prover that hangs.
#                          WP runs the provers of one pass side by side on a goal and stops
#                          at the first success, so a pass of three provers costs three
#                          solvers per goal. "first": the module's first pass alone, with
#                          its limits; "bounded": the module's passes that have a step
#                          limit, without the last one (the mutant tests).
#   --par N                parallel prover processes, -wp-par (default: $AIOTP_PROOF_PAR or 2)
#   --fct F1,F2            restrict WP to these functions (-wp-fct)
#   --prop P1,P2           restrict WP to these properties (-wp-prop)
#   --expect-unproved RE   invert the verdict (mutant tests): succeed only if the proof
#                          ran, some goal is unproved, and an unproved goal matches RE
#   --smoke                WP's smoke tests (-wp-smoke-tests): for every requires, every
#                          behavior's assumes and every block of code, try to prove false
#                          from what holds there. A success means a vacuous contract or
#                          dead code. Runs the module's step-bounded passes only (default
#                          --passes bounded: a smoke goal that holds up stays unproved, and
#                          the last pass would spend 30 s on each); succeeds when every
#                          smoke goal stays unproved except the dead code listed for the
#                          module in smoke_dead_of below (each with its reason). The
#                          module's own goals are not judged in this mode.
#
# Exit status: 0 every goal proved (or, with --expect-unproved, the expected failure; with
#                --smoke, no smoke goal proved but the listed dead code);
#              1 some goal unproved, a required property missing, or a memory-model
#                hypothesis added by WP (or, with --expect-unproved, no expected failure;
#                with --smoke, a smoke goal proved or a listed one missing);
#              2 setup error: frama-c, a prover or jq missing, parse error, no report.
# A missing tool is a failure, never a skip.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$ROOT
OUT=${AIOTP_PROOF_OUT:-${TMPDIR:-/tmp}/aiotp-proofs}
TIMEOUT=${AIOTP_PROOF_TIMEOUT:-30}
PASSES=${AIOTP_PROOF_PASSES:-}
PAR=${AIOTP_PROOF_PAR:-2}
FCT=""
PROP=""
EXPECT=""
SMOKE=""
MODULES=()

die() { echo "run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
    --out) OUT=$2; shift 2 ;;
    --src) SRC=$(cd "$2" && pwd) || die "no such directory: $2"; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --passes) PASSES=$2; shift 2 ;;
    --par) PAR=$2; shift 2 ;;
    --fct) FCT=$2; shift 2 ;;
    --prop) PROP=$2; shift 2 ;;
    --expect-unproved) EXPECT=$2; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    -h|--help) sed -n '2,/^# A missing tool/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    flow|wbuf|stream_sm|ring|handles|theap|dgram_sm|dgq|tls_sm|pipe_sm|proc_sm) MODULES+=("$1"); shift ;;
    *) die "unknown argument: $1 (try --help)" ;;
    esac
done
[ ${#MODULES[@]} -gt 0 ] || MODULES=(flow wbuf stream_sm ring handles theap dgram_sm dgq tls_sm pipe_sm proc_sm)

# Files of each proof target: the module and its proof driver (proofs/drivers/).
files_of() {
    case $1 in
    flow) echo "$SRC/src/core/flow.c $ROOT/proofs/drivers/flow_trace.c" ;;
    wbuf) echo "$SRC/src/core/wbuf.c" ;;
    stream_sm) echo "$SRC/src/core/stream_sm.c $ROOT/proofs/drivers/stream_trace.c $ROOT/proofs/drivers/stream_rules.c" ;;
    ring) echo "$SRC/src/core/ring.c $ROOT/proofs/drivers/ring_fifo.c" ;;
    handles) echo "$SRC/src/core/handles.c $ROOT/proofs/drivers/handles_stale.c" ;;
    theap) echo "$SRC/src/core/theap.c" ;;
    dgram_sm) echo "$SRC/src/core/dgram_sm.c $ROOT/proofs/drivers/dgram_trace.c" ;;
    dgq) echo "$SRC/src/core/dgq.c" ;;
    tls_sm) echo "$SRC/src/core/tls_sm.c $ROOT/proofs/drivers/tls_trace.c" ;;
    pipe_sm) echo "$SRC/src/core/pipe_sm.c $ROOT/proofs/drivers/pipe_trace.c" ;;
    proc_sm) echo "$SRC/src/core/proc_sm.c $ROOT/proofs/drivers/proc_trace.c" ;;
    esac
}

# Extra WP options of a module. -wp-split: goals split at the branches of the code, so
# that each invariant is proven path by path (the loop's data structures: their
# invariants quantify over arrays, and one goal per path stays small).
extra_of() {
    case $1 in
    handles|theap) echo "-wp-split" ;;
    esac
}

# Prover passes of a module (--passes): the prover that proves most of its goals first, then
# the other, each bounded by steps (the prover's own resource count: the same goals pass or
# fail on every machine and under any load); then all three side by side with the full
# timeout on what is left. (Measured: in one pass of three provers side by side, CVC5
# never proved a goal first; Z3 proves most goals of the state machines, CVC4 most of
# handles' and theap's.) The limits, from the logs (proofs/README.md): Z3 proves all but 29
# of the Z3-first modules' goals within 2 million steps (about half a second; tls_sm
# leaves 17, stream_sm, proc_sm and ring 4 each), and CVC4 those within 110,000 units;
# CVC4 proves handles' goals within 100,000.
# A goal over the first limit only moves to the next prover, with its property. The
# timeout of a step-bounded pass only guards against a prover that stops counting (Z3 on
# one false goal of a mutant ran 30 s without reaching 3 million steps).
passes_of() {
    case $1 in
    handles) echo "cvc4:10@150000 z3:10@2000000 z3,cvc4,cvc5" ;;
    # theap: CVC4 proves every goal, most within 250,000 units, the slowest few with up to
    # 610,000 (about 10 s): one pass with room above that, so that no property goes
    # through a second pass. (A second pass of the same lone prover is not an option: WP
    # 25 then reports goals that pass proved as unproved, measured with "cvc4:2 cvc4:12"
    # and with step limits. Z3 proved none of the goals CVC4 leaves at 250,000 units
    # within 3 s.
    # Time-bounded passes failed far more goals in the label than alone: two tests of two
    # provers each share two cores, so every timeout is halved, and each failed goal sends
    # its whole property to the next pass.)
    theap) echo "cvc4:60@1000000 z3,cvc4,cvc5" ;;
    *) echo "z3:10@2000000 cvc4:10@150000 z3,cvc4,cvc5" ;;
    esac
}

# Named properties that spec/proofs.md cites: each must be present in the report and
# proved (a full run only), so a deleted clause cannot silently shrink the claims.
required_of() {
    case $1 in
    flow) echo "FLOW_1_high FLOW_1_low FLOW_1_defaults FLOW_2_only_high FLOW_2_only_low
                FLOW_2_both FLOW_3_ordered FLOW_3_accepted FLOW_3_refused
                FLOW_7_state_kept FLOW_4_pause FLOW_4_no_pause FLOW_5_resume
                FLOW_5_no_resume FLOW_6_model FLOW_6_pause_after_resume
                FLOW_6_resume_after_pause FLOW_7_lowered_below_size
                FLOW_7_raised_while_paused FLOW_7_never_resumes FLOW_7_never_runs
                is_valid_iff in_range
                lemma_flow_defaults_accepted lemma_flow_negative_high_refused rte" ;;
    wbuf) echo "WBUF_1_size WBUF_1_sum WBUF_2_grows WBUF_3_shrinks WBUF_3_front
                WBUF_4_empty space_sum run count lengths front_kept rewound installed
                size_kept linear is_valid_iff lemma_wbuf_data_sum lemma_wbuf_tail_mod
                rte" ;;
    stream_sm) echo "is_valid_iff STREAM_INV edges tables_match acts_in_range
                refused_alone no_op unchanged unknown_event made_on_entry
                deliver_when_connected eof_on_entry nothing_after_eof lost_on_entry
                schedule_on_entry no_silent_drop shutdown_on_entry reader_stopped
                reader_started life_table rd_table wr_table ph_table PROTO_made_once
                PROTO_data_between PROTO_eof_once PROTO_lost_once PROTO_nothing_after_lost
                schedule_once made_count eof_count lost_count after_write_eof dropped
                accepted lemma_ph_lost_final lemma_life_closed_final lemma_rd_stopped_final
                lemma_wr_shut_final rte" ;;
    dgram_sm) echo "is_valid_iff next_life next_rd next_ph acts DGRAM_INV edges tables_match
                refused_alone made_on_entry lost_on_entry deliver_when_reading
                error_when_connected no_silent_drop no_op unchanged life_table rd_table
                ph_table DGRAM_made_once DGRAM_lost_once DGRAM_nothing_after_lost
                DGRAM_error_between lemma_dg_life_closed_final lemma_dg_ph_lost_final
                lemma_dg_rd_stopped_final rte" ;;
    handles) echo "valid_shape valid_gens valid_stack valid_distinct HANDLES_1_alloc
                HANDLES_2_stale HANDLES_1_encode HANDLES_1_found HANDLES_1_none
                HANDLES_1_match HANDLES_2_live HANDLES_2_new_handle HANDLES_2_not_mine
                lemma_handle_injective rte" ;;
    theap) echo "valid_shape valid_order valid_places THEAP_1_count THEAP_1_added
                THEAP_1_keep THEAP_1_only THEAP_1_removed THEAP_2_earliest THEAP_2_was_in
                THEAP_3_entry LOOP_2_due LOOP_5_never_early LOOP_5_at_most_1ms_late capped
                LOOP_2_no_block LOOP_2_io_only LOOP_2_until_timer LOOP_5_earliest LOOP_5_due
                LOOP_5_none_due root_first rte" ;;
    dgq) echo "is_valid_iff empty valid fits compact grow tail count payload
                reset front moved installed rte" ;;
    tls_sm) echo "is_valid_iff next_ly next_app next_rd upgrade_kept acts TLS_INV edges
                tables_match refused_alone made_on_entry lost_on_entry eof_on_entry
                deliver_when_reading complete_once failed_untold let_go_once no_op
                unchanged ly_table app_table rd_table TLS_made_once TLS_data_between
                TLS_eof_once TLS_lost_once TLS_nothing_after_lost TLS_complete_once
                TLS_failed_untold TLS_let_go_once now queued range
                lemma_tls_ly_closed_final lemma_tls_app_lost_final rte" ;;
    pipe_sm) echo "is_valid_iff next_life next_rd next_ph acts dir_kept PIPE_INV edges
                tables_match refused_alone made_on_entry lost_on_entry eof_before_lost
                deliver_when_reading no_silent_drop no_op unchanged life_table rd_table
                ph_table PIPE_made_once PIPE_data_between PIPE_eof_once PIPE_lost_once
                PIPE_nothing_after_lost schedule_once lemma_pp_life_closed_final
                lemma_pp_ph_lost_final lemma_pp_rd_stopped_final rte" ;;
    proc_sm) echo "is_valid_iff next_life next_ph next_exit next_pipes next_closing acts
                PROC_INV edges tables_match refused_alone made_on_entry exited_on_entry
                lost_on_entry lost_when_all_done data_on_open_pipe pipe_lost_once
                kill_running signal_running no_op unchanged life_table ph_table exit_table
                PROC_made_once PROC_exited_once PROC_pipes_between PROC_lost_last
                PROC_nothing_after_lost schedule_once lemma_pr_life_closed_final
                lemma_pr_ph_lost_final lemma_pr_exit_told_final rte" ;;
    esac
}

# Smoke goals (--smoke) expected to be proved, i.e. dead code: regexes of the goal names WP
# prints ("typed_<function>_wp_smoke_dead_code_s<N>", N the statement's number, which moves
# with every edit). Each entry must match exactly one proved smoke goal: a second dead
# block in the same function fails, and so does an entry that no longer applies.
smoke_dead_of() {
    case $1 in
    # the SIZE_MAX check in set_limits: size_t is 64 bits wide here, so no int exceeds it
    flow) echo "aiotp_flow_set_limits_wp_smoke_dead_code" ;;
    # the defensive refusal after "assert tables_match" in each step function: the code
    # follows its tables (that assertion is proved), so the refusal never runs
    stream_sm) echo "aiotp_stream_step_wp_smoke_dead_code" ;;
    dgram_sm) echo "aiotp_dgram_step_wp_smoke_dead_code" ;;
    # tls_sm, also: edges_ok's "no edge" for the reading part, which has two states and both
    # edges between them, so a change of that part is always an edge
    tls_sm) echo "aiotp_tls_step_wp_smoke_dead_code typed_edges_ok_wp_smoke_dead_code" ;;
    pipe_sm) echo "aiotp_pipe_step_wp_smoke_dead_code" ;;
    proc_sm) echo "aiotp_proc_step_wp_smoke_dead_code" ;;
    esac
}

# ---- the tools: all required ------------------------------------------------------------
for t in frama-c jq z3 cvc4 cvc5; do
    command -v "$t" >/dev/null 2>&1 || die "required tool '$t' not found (apt-get install frama-c-base why3 z3 cvc4 cvc5 jq)"
done
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)

# why3 configuration from our template: our drivers, absolute paths (tooling.md).
sed "s|@DRIVER_DIR@|$ROOT/proofs/frama-c|g" "$ROOT/proofs/frama-c/why3.conf.in" \
    > "$OUT/why3.conf" || die "cannot write $OUT/why3.conf"
export WHY3CONFIG="$OUT/why3.conf"
detected=$(frama-c -wp-detect 2>&1) || die "frama-c -wp-detect failed: $detected"
for p in Z3 CVC4 CVC5; do
    grep -q "Prover *$p " <<<"$detected" || die "WP does not see prover $p (why3 config $OUT/why3.conf):
$detected"
done

# A mutant copy may carry its own generated ACSL (proofs/mutant.sh, "table:"), found first.
SRC_PROOFS=""
[ "$SRC" != "$ROOT" ] && [ -d "$SRC/proofs/acsl" ] && SRC_PROOFS="$SRC/proofs"

status=0
for m in "${MODULES[@]}"; do
    log="$OUT/$m.log"
    json="$OUT/$m.json"
    rm -f "$json" "$log"
    args=()
    [ -n "$FCT" ] && args+=(-wp-fct "$FCT")
    [ -n "$PROP" ] && args+=(-wp-prop "$PROP")
    # shellcheck disable=SC2207
    args+=($(extra_of "$m"))
    # the prover passes: the first on every goal, each later one (-then -wp) only on the
    # properties still unproved; every pass rewrites the JSON report with all the results
    passes=()
    mpasses=${PASSES:-$(passes_of "$m")}
    if [ -n "$SMOKE" ]; then
        args+=(-wp-smoke-tests)
        mpasses=${PASSES:-bounded}
    fi
    if [ "$mpasses" = first ]; then # the module's first pass alone, with its limits
        mpasses=$(passes_of "$m")
        mpasses=${mpasses%% *}
    elif [ "$mpasses" = bounded ]; then # the module's passes that have a step limit
        mpasses=$(tr ' ' '\n' <<<"$(passes_of "$m")" | grep '@' | tr '\n' ' ')
    fi
    for pass in $mpasses; do
        steps=0 # none: the timeout alone bounds the pass
        case $pass in *@*) steps=${pass##*@}; pass=${pass%@*} ;; esac
        provers=${pass%%:*}
        ptime=$TIMEOUT
        [ "$provers" != "$pass" ] && ptime=${pass#*:}
        # (-then keeps most options, but not WP's selection (-wp-fct, -wp-prop): every
        # pass repeats the module's options)
        if [ ${#passes[@]} -eq 0 ]; then
            passes+=(-wp-prover "$provers")
        else
            # after -then, a plain -wp-prover ADDS to the provers of the passes before
            # (measured: "cvc4:2 z3:4" ran CVC4 and Z3 side by side in its second pass);
            # "-x" removes x: each pass runs exactly the provers it names
            set_provers=""
            for p in z3 cvc4 cvc5; do
                case ",$provers," in *",$p,"*) ;; *) set_provers+="-$p," ;; esac
            done
            passes+=(-then -wp "${args[@]}" "-wp-prover=$set_provers$provers")
        fi
        passes+=(-wp-timeout "$ptime" -wp-steps "$steps" -wp-report-json "$json")
    done
    [ ${#passes[@]} -gt 0 ] || die "no prover pass (--passes)"
    start=$(date +%s)
    # shellcheck disable=SC2046
    frama-c $(files_of "$m") \
        -cpp-extra-args="-I$SRC/src ${SRC_PROOFS:+-I$SRC_PROOFS} -I$ROOT/proofs -D_POSIX_C_SOURCE=200809L" \
        -warn-unsigned-overflow -warn-unsigned-downcast -warn-signed-downcast \
        -warn-left-shift-negative -warn-right-shift-negative \
        -wp -wp-rte -wp-par "$PAR" -wp-no-pruning \
        -wp-cache none -wp-out "$OUT/$m.wp" "${args[@]}" "${passes[@]}" \
        -then -report-classify -report-unclassified-unknown ERROR \
        >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    echo "$secs" > "$OUT/$m.secs"

    if [ ! -s "$json" ] || ! jq -e '.["wp:global"]["wp:main"].total' "$json" >/dev/null 2>&1; then
        echo "proof.$m: ERROR: frama-c exited $rc without a WP report; log $log:" >&2
        grep -E "Error|error|aborted|Warning" "$log" | head -20 >&2
        exit 2
    fi
    total=$(jq '.["wp:global"]["wp:main"].total' "$json")
    valid=$(jq '.["wp:global"]["wp:main"].valid' "$json")
    provers=$(jq -r '.["wp:global"] | to_entries[] | select(.key != "wp:main")
                     | "\(.key)=\(.value.valid // 0)"' "$json" | tr '\n' ' ')
    # every goal and its verdict: "name total valid"
    jq -r '(.["wp:functions"] // {} | to_entries[] | .value | to_entries[]),
           (.["wp:axiomatics"] // {} | to_entries[] | .value | to_entries[])
           | select(.key != "wp:section")
           | "\(.key) \(.value["wp:main"].total) \(.value["wp:main"].valid)"' \
        "$json" > "$OUT/$m.goals"
    unproved=$(awk '$2 != $3 {print $1}' "$OUT/$m.goals")

    echo "proof.$m: $valid / $total goals proved in ${secs}s (proved by: $provers)"
    [ "$total" -gt 0 ] || { echo "proof.$m: ERROR: no goal at all" >&2; exit 2; }

    if [ -n "$SMOKE" ]; then
        # "[Passed] Smoke-test <goal>": nothing false found there (good); any other verdict
        # on a smoke goal: proved false, i.e. dead code or a vacuous contract
        smoke_all=$(grep "Smoke-test typed_" "$log" |
                    sed -E 's/.*Smoke-test (typed_[A-Za-z0-9_]+).*/\1/' | sort -u | grep -c .)
        found=$(grep "Smoke-test typed_" "$log" | grep -v "\[Passed\]" |
                sed -E 's/.*Smoke-test (typed_[A-Za-z0-9_]+).*/\1/' | sort -u)
        echo "proof.$m: smoke tests: $smoke_all smoke goals, $(grep -c . <<<"$found") proved false"
        [ "$smoke_all" -gt 0 ] || { echo "proof.$m: FAIL: no smoke goal at all" >&2; status=1; }
        dead=$(smoke_dead_of "$m")
        while read -r goal; do
            [ -n "$goal" ] || continue
            if [ -n "$dead" ] && grep -Eq -- "$(tr ' ' '|' <<<"$dead")" <<<"$goal"; then
                echo "  expected dead code: $goal"
            else
                echo "proof.$m: FAIL: smoke goal proved: $goal (dead code or vacuous contract)" >&2
                status=1
            fi
        done <<<"$found"
        for d in $dead; do
            n=$(grep -c -- "$d" <<<"$found")
            [ "$n" -eq 1 ] ||
                { echo "proof.$m: FAIL: expected one dead block matching '$d', found $n" >&2; status=1; }
        done
        continue
    fi
    if [ -n "$EXPECT" ]; then
        if [ -z "$unproved" ]; then
            echo "proof.$m: FAIL: expected an unproved goal matching /$EXPECT/, all proved" >&2
            status=1
        elif grep -Eq -- "$EXPECT" <<<"$unproved"; then
            echo "proof.$m: unproved, as expected:"; sed 's/^/  /' <<<"$unproved"
        else
            echo "proof.$m: FAIL: unproved goals, but none matches /$EXPECT/:" >&2
            sed 's/^/  /' <<<"$unproved" >&2
            status=1
        fi
        continue
    fi

    if [ -n "$unproved" ] || [ "$total" != "$valid" ]; then
        echo "proof.$m: FAIL: unproved goals (log $log):" >&2
        sed 's/^/  /' <<<"$unproved" >&2
        status=1
    elif [ "$rc" -ne 0 ]; then
        echo "proof.$m: FAIL: frama-c exited $rc (report-classify found an unproved property):" >&2
        sed -n '/\[report\]/,$p' "$log" | head -30 >&2
        status=1
    fi
    if grep -q "Memory model hypotheses" "$log"; then
        echo "proof.$m: FAIL: WP added memory-model hypotheses (see $log): state them" >&2
        status=1
    fi
    if [ -z "$FCT$PROP" ]; then
        for r in $(required_of "$m"); do
            # a clause "<fn>_[<behavior>_]ensures|assert|loop_invariant_<r>[_partN...]",
            # a behavior "<fn>_<r>_ensures_...", a lemma, or (rte) any RTE assertion
            grep -Eq -- "(_ensures_|_assert_|_loop_invariant_|^)${r}(_part[0-9]+|_established|_preserved)? |_${r}_ensures_|_assert_${r}_" \
                "$OUT/$m.goals" ||
                { echo "proof.$m: FAIL: no goal for required property '$r'" >&2; status=1; }
        done
    fi
done
exit $status
