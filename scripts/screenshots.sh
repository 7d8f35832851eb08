#!/usr/bin/env bash
# Regenerates assets/*.png from the real program: embedded defaults in a temp data dir,
# driven through tmux. Needs tmux and `pip install pyte pillow`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
data=$(mktemp -d)
sock=dataflow-shots
cols=110; rows=32
t() { tmux -L "$sock" "$@"; }
keys() { for k in "$@"; do t send-keys -t s "$k"; sleep 0.08; done; }
text() { t send-keys -t s -l -- "$1"; sleep 0.08; }
shot() { sleep 0.8; t capture-pane -e -p -t s | python3 scripts/ansi_to_png.py $cols $rows "assets/$1.png"; echo "assets/$1.png"; }
t kill-server 2>/dev/null || true
t new-session -d -s s -x $cols -y $rows "env DATAFLOW_DATA_DIR=$data TIMEZONE=America/Sao_Paulo target/release/dataflow"
sleep 1
shot login
text vert; keys Tab; text vert; keys Enter; sleep 1
add() { text "$1"; keys Tab; text "$2"; keys Tab; text "$3"; keys Tab; text "$4"; keys Tab BSpace BSpace BSpace; text "$5"; keys Tab; text "$6"; keys C-s; sleep 0.4; }
add "Blusa" "Blusa com touca" "Vestuário" "59.99" "BRL" "50"
add "Tênis de corrida" "Amortecimento em gel" "Calçados" "349.90" "BRL" "12"
add "Jaqueta jeans" "Lavagem escura" "Vestuário" "189.00" "BRL" "7"
add "Boné" "Aba curva, ajustável" "Acessórios" "39.90" "USD" "120"
text "Mochila"; keys Tab; text "30 litros"; keys Tab; text "Acessórios"; keys Tab; text "-5"
shot form
keys Escape; sleep 0.3; keys 2
shot products
keys 3
shot topic
keys Enter
shot message
keys Escape /; text "category=Vestuário"; keys Enter
shot topic-filter
printf 'name,description,category,amount,currency,quantity\nCaneca,"Caneca, 300 ml",Cozinha,25.50,BRL,10\nPanela,Inox,Cozinha,120,BRL,3\n,sem nome,Cozinha,1,BRL,1\nPrato,Raso,Cozinha,15.999,BRL,40\n' > "$data/cozinha.csv"
keys 2 i; text "$data/cozinha.csv"; keys Enter; sleep 1
shot import
keys Escape 4; sleep 6
shot pipeline
t kill-server
rm -rf "$data"
