#!/usr/bin/env bash
# CTest kit.viewer: tools/aiotp_trace_view pages in headless Chromium.
#   test_viewer.sh VIEW CHECKER SM_JSON OUTDIR GOOD_TRACE BAD_TRACE
# For each trace: the page loads without console errors (Chromium's log and the page's own
# error counter), stepping changes the highlighted state (the DOM at #step=0 and at the
# last step differ in the highlighted node and in body[data-state]), the violating page
# marks its violation, and a screenshot is written to OUTDIR.
set -u
view=$1 chk=$2 sm=$3 out=$4 good=$5 bad=$6
chrome=$(command -v chromium || true)
[ -n "$chrome" ] || { echo "FAIL: chromium not installed (scripts/setup.sh installs it)"; exit 1; }
mkdir -p "$out"
profile=$(mktemp -d "${TMPDIR:-/tmp}/kit-chromium.XXXXXX")
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$profile" --enable-logging=stderr --v=0 --virtual-time-budget=3000)
status=0
for kind in good bad; do
    trace=$good; [ $kind = bad ] && trace=$bad
    page=$out/viewer_$kind.html
    python3 "$view" "$trace" --out "$page" --sm "$sm" --checker "$chk" --title "kit viewer test ($kind)" || { echo "FAIL: view $kind"; exit 1; }
    n=$(python3 -c "import json,re,sys;t=open(sys.argv[1]).read();print(len(json.loads(re.search(r'var D = (.*);\n',t).group(1))['events'])-1)" "$page")
    for step in 0 "$n"; do
        timeout 120 "$chrome" "${flags[@]}" --dump-dom "file://$page#step=$step" >"$out/dom_${kind}_$step.html" 2>"$out/log_${kind}_$step.txt"
        body=$(grep -o '<body[^>]*>' "$out/dom_${kind}_$step.html" | head -1)
        echo "$kind step $step: $body"
        case $body in *'data-ready="1"'*) ;; *) echo "FAIL: $kind page did not finish loading"; status=1;; esac
        case $body in *data-errors*) echo "FAIL: $kind page raised errors"; status=1;; esac
        if grep -E 'CONSOLE.*(Uncaught|Error)' "$out/log_${kind}_$step.txt"; then
            echo "FAIL: console errors on the $kind page"; status=1
        fi
    done
    s0=$(grep -o 'data-state="[^"]*"' "$out/dom_${kind}_0.html" | head -1)
    s1=$(grep -o 'data-state="[^"]*"' "$out/dom_${kind}_$n.html" | head -1)
    on0=$(grep -o 'class="node on" data-s="[A-Z_]*"' "$out/dom_${kind}_0.html" | tr '\n' ' ')
    on1=$(grep -o 'class="node on" data-s="[A-Z_]*"' "$out/dom_${kind}_$n.html" | tr '\n' ' ')
    echo "$kind highlighted at step 0: [$on0] at step $n: [$on1]"
    if [ "$s0" = "$s1" ] || [ "$on0" = "$on1" ] || [ -z "$on1" ]; then
        echo "FAIL: stepping did not change the highlighted state ($kind)"; status=1
    fi
    if [ $kind = bad ] && ! grep -Eq 'data-i="[0-9]+" class="viol"' "$out/dom_${kind}_0.html"; then
        echo "FAIL: the violation is not marked"; status=1
    fi
    if [ $kind = good ] && grep -Eq 'data-i="[0-9]+" class="viol"' "$out/dom_${kind}_0.html"; then
        echo "FAIL: a violation is marked on the conforming trace"; status=1
    fi
    timeout 120 "$chrome" "${flags[@]}" --window-size=1400,900 --screenshot="$out/viewer_$kind.png" \
        "file://$page#step=$n" >/dev/null 2>&1
    [ -s "$out/viewer_$kind.png" ] || { echo "FAIL: no screenshot"; status=1; }
    echo "screenshot: $out/viewer_$kind.png"
done
[ $status -eq 0 ] && echo "viewer: 2 pages ok"
exit $status
