"""The default label-free detector: an ensemble of four members chosen for generality, one ``anomaly_score``.

Members (each in its own module, all causal: the score of row ``t`` uses rows ``<= t`` only):

* ``residual`` (:mod:`.residual`): each channel predicted from the other channels at the same row and every
  channel's last ``lags`` rows; a spike, a jump or a broken relation between channels leaves a large error,
  a load step that moves the channels together does not.
* ``embedding`` (:mod:`.embedding`): trailing windows at several time scales (``windows``) embed each row
  (mean and log spread per channel); distance to the nearest normal embedding catches levels, variance changes,
  stuck sensors, slow drifts.
* ``changepoint`` (:mod:`.changepoint`): a windowed two-sided CUSUM of each channel's deviation from a moving
  reference catches the onset of a level shift or a change of slope that no single row shows.
* ``discord`` (:mod:`.discord`): a matrix-profile style discord score (our own approximation: PAA of
  z-normalised subsequences against normal ones) catches new shapes: a new frequency, a changed waveform.

**Operating regimes** (``regimes``, the most regimes looked for; 1 turns it off): a machine that starts and
stops, or moves between clearly separate states, is scored against the state it is in
(:mod:`~forewarn.models.anomaly.regimes`: k-means on the training rows, kept only when the clouds are clearly
separate and each is entered at least 3 times, so an anomaly seen once in training never becomes a regime);
the forecast and change-point members sit out the first rows after a switch while the machine settles.
**Glitches** (``despike``, on by default): the forecast member reads each channel through a causal median of
3 rows, so a single reading of one sensor (a spike the sensor made, not the machine) raises nothing there; a
lasting change reaches it one row later. The other members still see a large one-row spike (the windowed
spread moves), so a spike can still open an episode; set ``despike=False`` to flag every glitch.

**Normalisation.** Each member's raw score is normalised against its own scores on the training rows (honest
ones: embeddings and discords leave out the references near a training row in time) by a robust tail fit
(:func:`~forewarn.models.anomaly.robust.tail_fit`): above the training quantile at ``1 - TAIL`` (``TAIL`` plus
the ``contamination`` when it is known) the tail is taken as exponential, its scale from the *median* excess,
and a score becomes its *surprise* ``e = -log10(exceedance probability)`` (1 at the threshold, the same line
continued below it). Surprises are comparable across members whatever their units; the ensemble value is the
largest member's (an anomaly needs to be seen by one member only).

**The score.** ``anomaly_score = 1 / (1 + exp(-SLOPE * (asinh(e) - asinh(level))))``: continuous and strictly
inside (0, 1) (no pile-up at one value), 0.5 where ``e`` equals ``level`` (default 5: an exceedance
probability of 1e-5 per row under the training tail; the default alarm rule opens an episode at 0.5,
:mod:`forewarn.decide.alarms`), monotone in ``e`` so every member's ranking is kept.

**Robust fits.** Channels are scaled by their training median and MAD; missing values take the last value
seen (the training median before the first one), so a row with every value missing scores as a repeat of the row
before it (values missing at random cost little: 3 % of a failing twin fleet's values blanked gave 241-247 episodes
against 249, BENCHMARKS.md, issue 14, 2026-12-05 14:40); the forecast leaves gross outliers out of its regressions; the normalisation uses a median and an upper
quantile and a median excess, so anomalies in the training rows (up to about half the tail share) do not
move it. With ``contamination``
(the known share of anomalous training rows) the tail quantile moves down by that share, and the reference
embeddings and subsequences whose own training score lies above the level are dropped (a trimmed fit).

**Rounded values** (``rounding``, default ``"auto"``). A historian that writes four decimals puts a channel whose
noise is smaller than 1e-4 on a grid of a few steps; such a channel can sit on one step through most training rows,
so the forecast leaves the rows where it is off that step out of its fit (their robust spread is 0) and finds it
perfectly predictable, its window spreads are flat, and every later step is a huge surprise (a failing twin fleet
written with four decimals: 967 episodes against 249). Each channel's recording step ``q`` is read from its
training values (the grid they lie on, 0 for none: :func:`~forewarn.models.anomaly.robust.resolution`) and
``q**2 / 4``, the variance of a rounding that flips by a whole step (:func:`~forewarn.models.anomaly.rounding.rounding_noise`), is
taken where a forecast cannot remove it: as a floor under the forecast errors' variance (a channel whose training
errors already vary more keeps them), added to the window variances and to the spread of the window means.

* ``"auto"`` (the default) widens only the grids an export's decimals made: steps that are a power of ten
  (:func:`~forewarn.models.anomaly.robust.decimal_grid`: 1e-4 for four decimals, 1 for whole numbers), and adds
  to the window spreads only of those the grid *dominates* (:func:`~forewarn.models.anomaly.robust.grid_dominated`:
  values moving from one row to the next in fewer than :data:`~forewarn.models.anomaly.robust.GRID_CHANGES` of
  the training rows; a channel that moves on most rows already shows its rounding there). A sensor's own
  quantisation (SKAB's pressure: a step of 0.328, 1.27 of its spreads, on 5 values, moving on 48-65 % of rows)
  is left as the data shows it, and a finely resolved series is scored exactly as without the option (the floor
  never binds, no window changes).
* ``True`` widens every grid, a sensor's own quantisation too, and every such channel's window spreads.
* ``False`` widens nothing (the default before 2026-12-05).

A channel recorded on change (a historian's deadband and heartbeat: a staircase, flat and then a jump of at least
the deadband ``d``, read from its training rows by :func:`~forewarn.models.anomaly.robust.deadband`) takes
``d**2 / 12`` the same way, in every mode but ``False``: exports compressed at 0.5 % and 2 % of a tag's span raise
1.0-1.2 times the uncompressed export's episodes instead of 2.6-3.4 times (BENCHMARKS.md, own data, 2026-12-06 05:02).

Why not every grid by default: SKAB's pressure is as coarse, on as few values and as "perfectly predictable" by
the forecast as the twin's four-decimal vibration bands (no statistic of the training rows measured tells them
apart: ratio of step to spread, distinct values, the share of rows that move, the forecast's error variance),
but on SKAB its steps are the anomalies; widening it raised SKAB's false-alarm rate from 11.5 % to 16.7 % (``True``'s
first form, measured once on the test rows; 15.0 -> 42 % on a validation of anomalies injected into SKAB's
anomaly-free file). Chosen on validation data (twin fleets 11 and 12 at 1-4 decimals, that validation, SKAB's
training parts, corpus seeds 10-19): episodes of fleet 11 at 4 / 3 / 2 decimals 267 / 309 / 275 against 249
unrounded (``True``: 256 / 314 / 265; off: 967 / 1,072 / 457), fleet 12 334 / 398 / 313 against 296; SKAB's,
the corpus' and the healthy twin's fits unchanged; then measured once on the standing test cells (BENCHMARKS.md,
issue 14, 2026-12-05 16:28).

**Few rows.** From 10 training rows on it works: windows and the discord's subsequences shrink to a quarter of
the training rows (:data:`WINDOW_SHARE`: a training row then has references at least a window away, so its score
is honest), the forecast falls back to persistence below ``lags + (lags + 1) * channels + 2`` rows, the discord
member sits out below ``2 * PAA`` subsequence rows, and the forecast does not score the first ``lags`` rows of a
series (they have no history). **Small-sample corrections** (``small_sample``, *off by default for now*: they
also lower a clear fault's ``anomaly_score`` after a short fit, e.g. 0.93 -> 0.73 after 90 training rows on a
relation break of 15 spreads, still an alarm; whether that is the default is the team's call, BENCHMARKS.md,
issue 14, 2026-12-05 11:05) keep a short fit's levels as honest as those of a fit on :data:`REFERENCE_ROWS`
rows, the size at which the alarm level was chosen, and change nothing from that size on: the forecast's training errors are scaled up by its regressions'
degrees of freedom (:func:`~forewarn.models.anomaly.residual.fit_honest`: a regression's errors on its own rows
are too small, by half with 8 channels and 60 rows), and each member's tail scale is widened for the few
exceedances it rests on (:func:`~forewarn.models.anomaly.robust.small_sample_widening`, relative to the
widening at :data:`REFERENCE_ROWS`: x3.6 from 40 training rows, x1.28 from 150, x1.0 from 600). On short
healthy histories of 37-150 training rows they took the share of rows starting an episode from a median of
0.92 % (0.18-2.40 %) to 0.40 % (0.00-1.50 %) over 21 cells (BENCHMARKS.md, issue 14, 2026-12-05). Below :data:`FEW_ROWS` rows a :class:`FewRowsWarning` says what it cannot know.

**Levels of a short fit from more of its rows** (``tail_exceedances``, *off by default*, e.g. 40): each member's
tail fit (:func:`~forewarn.models.anomaly.robust.tail_fit`) rests on the top ``tail_exceedances / n_train`` of
the training rows' scores (at most half of them) where that is more than its usual top 10 %: a fit on 90 rows
reads its tail scale from 40 scores instead of 9, a noisy median that sets some series' levels far too high
(missed anomalies) and others too low. Nothing changes from ``10 * tail_exceedances`` training rows on (400 for
40: SKAB's fits, the twin fleets', a 4,000-row series'). Why: on short series most of the score is lost to
misses, not false alarms (validation seeds, the default's 600 / 1,000 / 2,000-row corpus: 50 / 45 / 39 points
lost to windows without an alarm, 4-6 to late alarms, 4 to false starts). With 40, on the test seeds once: 600
rows 39.3 -> 46.5, 1,000 rows 47.5 -> 51.6 (realistic corpus 39.3 -> 42.6), but 2,000 rows (300 training rows)
57.8 -> 54.0 (validation: +3.2); on short healthy histories the median share of rows starting an episode rose
0.96 -> 1.14 % (a twin asset's rows more, SKAB's and synthetic shapes' fewer; BENCHMARKS.md, issue 14,
2026-12-06 08:14). Not the default. ``forewarn detect --tail-exceedances 40`` sets it.

**Lasting deviations settle** (``settle_hours``, default 48; ``settle_factor``, default 4; needs the rows'
times as the ``DatetimeIndex`` of ``X``, which ``forewarn detect`` and :func:`score_frame` pass; without times
nothing settles): each row's combined surprise is divided by ``max(1, settle_factor * m / level)``, where ``m``
is the median surprise of the rows in the ``settle_hours`` before it (:func:`settle`). A row whose recent past
was normal keeps its score, so onsets, spikes and short anomalies are untouched; after a day or two at one
deviation (a drifting channel, a changed state after a fault) a new alarm needs the deviation to grow about
``settle_factor``-fold, as a failure's final days do, instead of re-opening an episode each time the
per-row noise crosses the level. Chosen on the failing twin fleet only (48 h x 4 among 24-168 h x 2-4:
forewarned 0.31 -> 0.43, false alarms per asset-month 2.46 -> 2.36), then measured on the corpus and SKAB
(BENCHMARKS.md, issue 14). The risk: a deviation that holds still for days stops alarming (its episode
closes); the first alarm has been raised by then.

**Episodes end when a fault gives way to a lesser state** (``recover``, default 20; ``None`` turns it off; no
times needed): each row's surprise (after settling) is divided by ``max(1, p / (recover * level))``, where ``p``
is the highest surprise of the rows before it in the same *excursion*; an excursion ends, and its peak is
forgotten, once the surprise has stayed under ``level`` for :data:`RECOVER_ROWS` rows (:func:`recover`). So
after a fault at surprise 10,000 a lasting aftermath at 200 (still far from the training rows: a rig that does
not go back exactly to where it was) scores 200 / 100 = 2, under the level, and the fault's episode closes
instead of running on; while the fault itself holds (surprise near its peak) the divisor stays under the
surprise's own size / ``level``, so nothing within ``recover``-fold of the peak is lost; once the signal is back
under the level for a few rows, the next deviation is judged as itself. The risk: a second, smaller fault that
begins while a larger one's aftermath is still above the level raises no alarm of its own unless it comes
within ``recover``-fold of the first one's peak. Chosen on the corpus we generate (the row F1 of its alarm
episodes, SKAB's per-row measure, peaks at 20 among 5-300, and its NAB-style score does not move); measured
after on SKAB and the twin (BENCHMARKS.md, issue 14).

**Long series: each member rebased on its own history** (``rebase_rows``, *off by default*, e.g. 4,000; no
times needed): once a member has scored ``rebase_rows`` rows, each of its surprises loses
``max(0, Q - q0)`` before the members are combined (:func:`rebase`), ``Q`` the 95th percentile of its surprises
on the ``rebase_rows`` rows before it and ``q0 = -log10(0.05) = 1.3`` the same percentile under its training tail
fit: a member whose recent rows exceed that percentile ``10 ** (Q - q0)`` times more often than in training has
its exceedance probabilities raised by that factor. Why: a fit on the first 15 % of a long series drifts away
from the rows it scores (a slow trend, a season the first part did not hold); on the labelled corpus at 16,000
rows the embedding member's false episode starts rose from 56 in the first tenth of the series to 147 in the
last (validation seeds 10-19), and the false starts per series from 3.2 at 4,000 rows to 11.6. Series of up to
``rebase_rows`` rows are scored exactly as without it. Chosen on validation corpus seeds 10-19 (95th percentile
among 80-99 %, 4,000 rows among 1,000-8,000, full history against a tenth of it; BENCHMARKS.md, issue 14,
2026-12-05 13:41). On the corpus' test seeds 0-9 it raised the score at 8,000 rows from 60.1 to 62.7 and at
16,000 from 55.2 to 57.6 (up to 4,000 rows unchanged). **Why not the default:** on machine data whose members
run far outside their fit for weeks (the failing twin fleet, hourly: recent 95th percentiles of 10-1,000), the
subtraction takes the combined surprise's recent median under settling's threshold (``level / settle_factor``),
so lasting deviations that settling held down alarm again: on the failing fleet of 180 days it acts on the last
320 rows of each asset only and still raised the false alarms from 2.24 to 2.45 per asset-month (0.43 forewarned
either way; the healthy fleet 0.179 -> 0.191 % of rows starting an episode); on a year of
hourly rows (validation fleets 3 and 4) 2.06 -> 2.23 and 2.09 -> 2.22, with 3 fewer of 175 failures forewarned.
**Only a history the series kept running through** (2026-12-06 10:07): a row with a :meth:`transitions` row (a
switch of regime, a jump of several channels: a stop, a start, a repair) among the ``rebase_rows`` rows before it
keeps its surprises, so a machine that starts and stops is not rebased at all. Validation: a year of the failing
twin fleets 3 and 4 then scores as the default (55 of 95 and 44 of 80 forewarned, episode starts unchanged; ungated
54 and 42, with 8 % and 6 % more starts); the standard corpus at 8,000 / 16,000 rows 62.8 / 57.9 (ungated 62.7 /
60.1, the default 60.4 / 55.3: the corpus' twin machines are no longer rebased), the realistic corpus at 16,000 rows
16.7 (ungated 15.2, the default 24.0). With ``recurrence=8`` too, on the test seeds once: standard corpus 65.4 /
60.2 at 8,000 / 16,000 rows (``recurrence`` alone 60.9 / 59.5), realistic 41.8 at 16,000 (45.9). Use it for long
metric series (counts, temperatures, demand) that drift slowly; the realistic corpus (queues, bursts, business
hours, steps) loses with it, gated or not.

**Long series: the embedding's references grow with the history** (``expand_references``, *off by default*; no
times needed): from twice the training rows on, and again at each doubling, the embedding member's reference
embeddings are redrawn from every row scored so far, more of them as the rows grow (at most 4x), leaving out the
rows near any member's surprise at the level; the feature scaling and the tail fit stay the training rows'
(:mod:`~forewarn.models.anomaly.expand`); a fit that found several operating regimes (a machine that starts
and stops) keeps its references (ungated, the failing twin fleets of validation seeds 3 and 4 gained false alarms:
2.46 -> 2.53 and 2.47 -> 2.53 per asset-month; gated 2.46 and 2.46). Not a rolling adaptation: the references keep the training rows, so a
state never seen before stays as far as it was; the risk is a slow change that stays under the level until a
doubling and is then normal. Chosen on validation corpus seeds 10-19 (the references redrawn with a new tail fit,
or in the fit's number, *raised* the false starts at 16,000 rows: 1,624 -> 1,694-2,064; grown in number with the
tail kept, 1,247), where it lifted the mean score at 1,000-16,000 rows by 0.6-3.2 points. On the test seeds 0-9
(once) the medians at 600 / 1,000 / 2,000 / 4,000 / 8,000 / 16,000 rows were 40.0 / 49.6 / 55.7 / 62.2 / 62.0 /
55.2 against the default's 39.3 / 47.5 / 57.8 / 63.5 / 60.1 / 55.2 (means +1.2 / +0.8 / +0.5 / -0.4 / +1.1 / +1.0);
the failing twin fleet of test seed 0 as without it (0.43 forewarned at 2.32 false alarms per asset-month through
the same path), SKAB 0.827 / 11.66 % (0.832 / 11.45 %), the healthy fleet 0.190 % of rows starting an episode
(0.179 %). Not the default: the medians at 2,000 and 4,000 rows fell, SKAB and the healthy fleet lost a little, and a stream that scores the last ``context`` rows of an asset cannot redraw
references from its whole history, so the stream and ``forewarn detect`` would differ (BENCHMARKS.md, issue 14,
2026-12-05 18:32). **Since 2026-12-06 10:07 only a series that has kept running grows them:** once a row before a
doubling is a :meth:`transitions` row (a stop, a start, a switch of regime), the references stay the fit's.
Validation (SKAB and the healthy fleet as guards on their standing cells): SKAB 0.832 / 11.45 % (ungated 0.827 /
11.66 %), the healthy fleet 0.184 % (0.190 %), the standard corpus at 4,000 / 16,000 rows 61.1 / 56.8 (60.8 / 56.2),
the realistic 48.5 / 26.8 (48.3 / 26.5), the twin fleets as before; not measured on the test seeds.

**Transitions** (``transition_rows``, off by default): in the first ``transition_rows`` rows after a
*transition* (a switch of operating regime, or a row where at least :data:`JUMP_CHANNELS` channels and
:data:`JUMP_SHARE` of them move more than :data:`JUMP` spreads from the row before: a start or a stop of a
machine whose training rows held no regime for it), each row's surprise (after settling and ``recover``) is
capped at the smallest surprise since the transition (:func:`hold_after`), so a row there alarms only if every
row since the transition was above the level. A fault that is there from the switch on still alarms at once;
a start-up's warming or a stop's cooling that crosses the level a few rows after the switch does not. The
risk: a fault that begins within ``transition_rows`` rows after a start, after a dip under the level, is seen
only once those rows have passed. With the option, a state the machine entered only twice in the training rows
and that holds :data:`TRANSITION_SHARE` of them is a regime too (:data:`TRANSITION_VISITS` visits instead of 3,
0.5 % instead of 2 %: a machine that stopped once or twice while the detector learned gets a stopped regime;
the rows just after entering such a thinly learned state are held anyway). Measured on five failing twin
fleets with 12 rows: false alarms per asset-month 2.07-2.54 -> 0.94-1.22, failures forewarned 95 -> 81 of 197
(a higher ``level`` buys as few false alarms at a higher price in failures; BENCHMARKS.md, issue 14,
2026-12-05). Not a default: it trades one figure for the other rather than improving both.

**Rare events that recur in training are normal** (``tail_visits``, *off by default*, e.g. 3): each member's tail
scale is widened (never narrowed) so that the height its training scores reach in ``tail_visits`` separate
excursions gets the surprise of its own frequency, plus one decade (:mod:`~forewarn.models.anomaly.tails`): a
queue emptied, a batch job, a heavy-tailed noise seen again and again while the detector learned stops alarming;
an anomaly seen once or twice in the training rows (a contaminated start) leaves the fit as it was.
**Variance-stabilised channels** (``stabilise``, *off by default*): a channel that never goes below 0 and whose
spread follows its level in the training rows is read through a log (spread in proportion to the level) or a
square root (counts) (:mod:`~forewarn.models.anomaly.stabilise`); other channels are left as they are (none of the
Gaussian corpus' channels, 14 channels of a healthy twin fleet's 20 machines, ``Current`` in 4 of SKAB's 34 files);
``center_`` and ``spread_`` stay in the channels' own units (alarm explanations read them), the scaling used is
``stable_center_``, ``stable_spread_``. Measured on the labelled corpus with normal behaviour that is not
Gaussian (``make_corpus(baselines=REALISTIC)``, validation seeds 10-19, medians at 1,000 / 4,000 / 16,000 rows:
the default 35.9 / 48.5 / 24.0): ``tail_visits=3`` 35.4 / 48.7 / 51.1 (a sawtooth's 1,908 false starts at 16,000
rows -> 68), ``stabilise`` 35.9 / 50.0 / 28.3 (multiplicative series 53.6 -> 74.0 at 4,000 rows); on the Gaussian
corpus neither costs anything (59.5 -> 59.7, 59.9 at 4,000 rows). On the realistic corpus' test seeds 0-9 (once):
the default 39.3 / 52.0 / 23.8, ``tail_visits=3`` 39.3 / 52.5 / 43.8, ``stabilise`` 39.3 / 53.7 / 23.2. **Why neither is the default:** each loses one of
the 20 forewarned failures of the failing twin fleet of validation seed 3 (19 of 38, with fewer false alarms: 2.47
-> 2.12 and 2.24 per asset-month; fleet 4: 16 of 30 either way, 2.47 -> 2.06 and 2.39), and ``tail_visits`` costs SKAB's F1 (0.832 -> 0.813: it widens the forecast
member of half the files by a median 572-fold, for their recurring pressure steps) (BENCHMARKS.md, issue 14,
2026-12-06 05:02); on the standing cells' test seeds, measured once before a default change, ``tail_visits=3`` lost
the standard corpus at 4,000 rows (63.5 -> 61.5) and 4 of 49 forewarned failures of the failing twin fleet of seed 0
(2.24 -> 2.04 false alarms per asset-month) (2026-12-06 06:05). ``forewarn detect --tail-visits 3`` sets it.

**Rare events that recur in the series are normal** (``recurrence``, default 8 since 2026-12-06, ``None`` turns it
off; no times needed):
``tail_visits`` read online, over every row scored so far (:mod:`~forewarn.models.anomaly.recurrence`): a member's
surprise at a height that member has already reached in ``recurrence`` separate earlier excursions of the series
(within half a decade) is capped at the surprise of that height's own frequency in the rows seen, plus one decade;
a height never reached before keeps its surprise. **Only excursions through which the series kept running count**:
one that holds a :meth:`transitions` row (a switch of operating regime, a jump of several channels: a stop, a start,
a repair) is no visit, so a machine's warning that ends in a failure and its repair never becomes normal, however
often it comes back. The combined surprise, after settling and ``recover`` (which read the members uncapped), is
then at most the members' capped combination, so the score is never above the default's. Why: on long series most
false starts are recurrences (validation seeds 10-19, the default's false starts outside windows whose leading
member had reached that height in at least 3 separate earlier excursions: the realistic corpus 3,409 of 4,099 at
16,000 rows, the standard one 1,142 of 1,624), the windows' first alarms less often (166 of 326, 104 of 320).
Without the gate (2026-12-06 07:18) a year of hourly rows of the failing twin fleets (validation seeds 3 and 4) lost
55 -> 39 of 95 and 44 -> 39 of 80 forewarned failures: fans that fail every few weeks show the same warning again
and again. With it, 54 of 95 and 43 of 80 (false alarms 2.06 -> 2.05 and 2.09 -> 2.07 per asset-month): 73-77 % of
those fleets' excursions in a failure's last 7 days hold a transition, 0-2 % of the metric corpus' (10 % for bursts
and business hours). Chosen on validation (corpus seeds 10-19 at 1,000-16,000 rows, twin fleets 3 and 4 of 180 and
365 days; 4-12 visits, and gates that also look ``R`` rows past an excursion: 24-168 rows cost the corpus and gave
the fleets at most one failure). On the test seeds 0-9 (once, the default re-run beside it): standard corpus 39.3 /
47.5 / 58.0 / 63.7 / 60.9 / 59.5 at 600 / 1,000 / 2,000 / 4,000 / 8,000 / 16,000 rows (39.3 / 47.5 / 57.8 / 63.5 /
60.1 / 55.2), realistic corpus 39.3 / 54.1 / 45.9 at 1,000 / 4,000 / 16,000 (39.3 / 52.0 / 23.8); SKAB 0.832 /
11.44 % (0.832 / 11.45 %), the healthy fleet 0.182 % of rows starting an episode (0.179 %: 157 against 155, a
capped row can split an episode), short healthy histories median 0.96 % (0.96 %), the failing twin fleet of seed 0
(180 days) 20 of 49 forewarned at 2.01 false alarms per asset-month (the same) (BENCHMARKS.md, issue 14, 2026-12-06
10:07). The default since 2026-12-06, with the alarm rule's cap tied to the fit (:mod:`forewarn.decide.alarms`):
both together on the same test cells, once, standard corpus 41.9 / 54.0 / 58.8 / 63.5 / 60.8 / 59.5, realistic 43.2 /
56.6 / 45.6, SKAB 0.827 / 11.39 %, the healthy fleet 0.182 %, the failing twin fleet of seed 0 20 of 49 at 2.01
(BENCHMARKS.md, issue 14, 2026-12-06 11:09). It counts from the series' first row: a scorer that reads only an
asset's last rows (the stream's context, ``detect --only-new``) carries what it keeps of the rows before
(:class:`~forewarn.models.anomaly.recurrence.Carry`, through :func:`~forewarn.models.anomaly.recurrence.carrying`),
so it caps as one run over the whole history (BENCHMARKS.md, issue 14, 2026-12-06 11:25). What the gate cannot see: a machine whose
failure leaves the rows running (no stop, no jump), and a metric series whose normal peaks come with a switch of
regime (business hours: capped less). ``forewarn detect --recurrence 0`` turns it off.

**Adaptation** (``adaptation`` > 0, off by default): each channel's baseline follows an exponentially
weighted mean of the past rows with that rate per row, so a slow regime change (a new set point, seasonal
creep) stops raising alarms after about ``1 / adaptation`` rows. The risk: a slow degradation is a slow regime
change too, and is learned as normal just the same; use it where slow change is known to be benign.

**How the defaults were chosen.** Members, windows (``windows=(4, 32)``, ``cusum_window=20``,
``discord_length=32``), the tail fit and ``level=5`` were chosen only on the labelled corpus we generate
(:mod:`forewarn.twin.anomalies`, seeds 0-9) and on SKAB, through ``benchmarks/detect.py`` (``--detector
forewarn.models.anomaly.ensemble:score_frame``; each member alone: ``score_residual``, ``score_embedding``,
``score_changepoint``, ``score_discord``). What was learned there: a CUSUM against the *training* mean (or on the
forecast innovations) stays high for as long as a change lasts and costs NAB-style scores dearly (long
episodes hide the next anomaly), so the change-point member marks onsets against a moving reference; long
embedding windows (64 rows) raise SKAB's false-alarm rows after each anomaly ends (the window lags), so the
longest default window is 32 rows. The discord member rarely decides on its own there (the corpus and SKAB are
noisy, where z-normalised shapes carry little); it is kept for shape anomalies in smooth periodic signals.
The regimes, ``despike`` and the same-row forecast were added for the failing twin fleet (hourly rows, machines
that start and stop, sensor spikes, load steps), judged on its event figures and on SKAB, with the corpus
score re-measured after each (BENCHMARKS.md, issue 14: false alarms per asset-month 7.57 -> 2.46). Settling
(``settle_hours``, ``settle_factor``) came next, chosen on the twin fleet alone (forewarned 0.31 -> 0.43), then
``recover`` (the end of an episode, above), chosen on the corpus.

Rows are a time series: ``score(X)`` treats the rows of ``X`` as consecutive and in order (irregular sampling
is tolerated: rows are rows; gaps in values are filled causally); their times, where given as the index of
``X``, serve settling only. :func:`score_frame` is the benchmark's entry point: ``(frame, n_train) ->
anomaly_score``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = np.zeros((3000, 2))
>>> for t in range(1, 3000):
...     x[t] = 0.8 * x[t - 1] + rng.normal(0, 1, 2)
>>> x[2000:2040, 1] += 6.0                     # a level shift on one channel
>>> det = EnsembleDetector().fit(x[:1000])
>>> s = det.score(x)
>>> bool(s[2000:2040].max() > 0.9), bool((s[:2000] >= 0.5).mean() < 0.005)
(True, True)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from forewarn.base.estimator import AnomalyDetector
from forewarn.base.params import Boolean, Interval, Options, SequenceOf
from forewarn.base.registry import register
from forewarn.models.anomaly import (
    changepoint,
    discord,
    embedding,
    expand,
    memo,
    recurrence,
    regimes,
    residual,
    stabilise,
)
from forewarn.models.anomaly.adjust import REBASE_MIN_SHARE as REBASE_MIN_SHARE
from forewarn.models.anomaly.adjust import REBASE_QUANTILE as REBASE_QUANTILE
from forewarn.models.anomaly.adjust import RECOVER_ROWS as RECOVER_ROWS
from forewarn.models.anomaly.adjust import hold_after, rebase, recover, settle
from forewarn.models.anomaly.robust import fill_gaps, robust_location_scale, tail_fit, tail_normalise
from forewarn.models.anomaly.rounding import rounding_noise
from forewarn.models.anomaly.tails import excursion_widened

MEMBERS = ("residual", "embedding", "changepoint", "discord")
#: the embedding member's state (``embedding_<name>_``)
EMBEDDING_STATE = ("center", "spread", "reference", "index", "noise")
#: the training share above the tail fit's threshold (plus ``contamination`` when it is given)
TAIL = 0.1
#: steepness of the map from the normalised score to [0, 1] (in asinh units)
SLOPE = 3.0
#: weight of the members' mean beside their maximum in :func:`combine` (breaks ties, keeps the order)
TIEBREAK = 0.01
#: windows and subsequences are at most this share (1 / WINDOW_SHARE) of the training rows, so that most training
#: rows have references a window away in time, against which their scores are honest (module text, few rows)
WINDOW_SHARE = 4
#: the training rows the alarm level was chosen at (the first 15 % of the corpus' series and of the twin fleets:
#: 600-650 rows); the small-sample corrections (``small_sample``) make a shorter fit's levels as honest as there
REFERENCE_ROWS = 600
#: below this many training rows, a :class:`FewRowsWarning`
FEW_ROWS = 100
#: the training share of rows :func:`score_frame` fits on when the caller does not say
TRAIN_FRACTION = 0.15
#: a row is a jump (a transition for ``transition_rows``) when channels move more than this many spreads ...
JUMP = 3.0
#: ... at least this many of them ...
JUMP_CHANNELS = 3
#: ... and at least this share of them, from the row before
JUMP_SHARE = 0.3
#: with ``transition_rows``, a regime needs only this share of the training rows ...
TRANSITION_SHARE = 0.005
#: ... and this many visits (instead of ``regimes.MIN_SHARE`` and ``regimes.MIN_VISITS``)
TRANSITION_VISITS = 2


class FewRowsWarning(UserWarning):
    """The detector was fitted on so few rows that parts of normal behaviour are unknown to it."""


@register("ensemble")
class EnsembleDetector(AnomalyDetector):
    """Residual + embedding + change-point + discord members, robustly normalised, one score in (0, 1)."""

    tags = {"sequential": True, "nan_allowed": True, "unit": "probability-like", "timed": True}
    #: set in ``fit`` (by name, with the embedding member's other state): the training rows its references come from
    embedding_index_: np.ndarray
    parameter_constraints = {
        "members": [SequenceOf(Options(*MEMBERS))],
        "lags": [Interval(int, 1, 10)],
        "windows": [SequenceOf(Interval(int, 2))],
        "cusum_window": [Interval(int, 2)],
        "discord_length": [Interval(int, 8)],
        "references": [Interval(int, 8)],
        "level": [Interval(float, 0, None, closed="neither")],
        "contamination": [Interval(float, 0, 0.5, closed="left"), None],
        "adaptation": [Interval(float, 0, 1, closed="left")],
        "regimes": [Interval(int, 1, 8)],
        "despike": [Boolean()],
        "settle_hours": [Interval(float, 0, None, closed="neither"), None],
        "settle_factor": [Interval(float, 1, None)],
        "recover": [Interval(float, 1, None), None],
        "rebase_rows": [Interval(int, 10, None), None],
        "transition_rows": [Interval(int, 1, None), None],
        "small_sample": [Boolean()],
        "rounding": [Boolean(), Options("auto")],
        "expand_references": [Boolean()],
        "tail_visits": [Interval(int, 2, None), None],
        "stabilise": [Boolean()],
        "recurrence": [Interval(int, 2, None), None],
        "tail_exceedances": [Interval(int, 1, None), None],
    }

    def __init__(
        self,
        *,
        members: tuple[str, ...] = MEMBERS,
        lags: int = 3,
        windows: tuple[int, ...] = (4, 32),
        cusum_window: int = 20,
        discord_length: int = 32,
        references: int = 256,
        level: float = 5.0,
        contamination: float | None = None,
        adaptation: float = 0.0,
        regimes: int = 4,
        despike: bool = True,
        settle_hours: float | None = 48.0,
        settle_factor: float = 4.0,
        recover: float | None = 20.0,
        rebase_rows: int | None = None,
        transition_rows: int | None = None,
        small_sample: bool = False,
        rounding: bool | str = "auto",
        expand_references: bool = False,
        tail_visits: int | None = None,
        stabilise: bool = False,
        recurrence: int | None = 8,
        tail_exceedances: int | None = None,
    ):
        self.members = members
        self.lags = lags
        self.windows = windows
        self.cusum_window = cusum_window
        self.discord_length = discord_length
        self.references = references
        self.level = level
        self.contamination = contamination
        self.adaptation = adaptation
        self.regimes = regimes
        self.despike = despike
        self.settle_hours = settle_hours
        self.settle_factor = settle_factor
        self.recover = recover
        self.rebase_rows = rebase_rows
        self.transition_rows = transition_rows
        self.small_sample = small_sample
        self.rounding = rounding
        self.expand_references = expand_references
        self.tail_visits = tail_visits
        self.stabilise = stabilise
        self.recurrence = recurrence
        self.tail_exceedances = tail_exceedances

    # -- preparation ---------------------------------------------------------------------------------------
    def _prepare(self, values: np.ndarray, g: np.ndarray | None = None) -> np.ndarray:
        """Fill gaps, scale by the training median/MAD, standardise per operating regime, and (optionally)
        remove the adapting baseline."""
        z = regimes.standardise(self._regime_state(), self._global(values) if g is None else g)
        if self.adaptation > 0:
            baseline = pd.DataFrame(z).ewm(alpha=self.adaptation, adjust=False).mean().to_numpy()
            z = z - np.vstack([np.zeros((1, z.shape[1])), baseline[:-1]])  # the baseline of the rows before
        return z

    def _effective(self, n_train: int) -> dict[str, Any]:
        longest = max(2, n_train // WINDOW_SHARE)
        windows = tuple(sorted({min(int(w), longest) for w in self.windows}))
        length = min(int(self.discord_length), n_train // WINDOW_SHARE)
        return {
            "windows": windows,
            "cusum_window": min(int(self.cusum_window), max(2, n_train)),
            "discord_length": length if length >= 2 * discord.PAA else 0,
        }

    def _global(self, values: np.ndarray) -> np.ndarray:
        """Stabilised (``stabilise``), gaps filled, scaled by the training median and MAD (before the regimes)."""
        values = stabilise.apply(self.stabilise_, values)
        center, spread = self.stable_center_, self.stable_spread_
        out: np.ndarray = (fill_gaps(values, center) - center) / spread
        return out

    def _rounding_noise(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """:func:`~forewarn.models.anomaly.rounding.rounding_noise` of the training ``values`` for this fit's
        scaling (the training spreads and the median of the regimes' spreads) and ``rounding``."""
        return rounding_noise(
            values, self.stable_spread_, np.median(self._regime_state()["spread"], axis=0), self.rounding
        )

    def _regime_state(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, f"regime_{name}_") for name in regimes.NAMES}

    # -- fitting -----------------------------------------------------------------------------------------
    def _fit(self, X: pd.DataFrame, y: object) -> None:
        values = X.to_numpy(dtype="float64", na_value=np.nan)
        n, n_channels = values.shape
        if n < 10:
            from forewarn.exceptions import SchemaError

            raise SchemaError(
                f"EnsembleDetector needs at least 10 training rows, got {n}",
                hint="train on a longer stretch of normal operation",
            )
        self.stabilise_ = stabilise.choose(values) if self.stabilise else stabilise.identity(n_channels)
        # center_ and spread_ stay in the channels' own units (alarm explanations read them); the scaling of the
        # stabilised values is stable_center_ and stable_spread_ (the same arrays when nothing is transformed)
        self.center_, self.spread_ = robust_location_scale(values)
        if np.all(self.stabilise_[:, 0] == 1.0):
            self.stable_center_, self.stable_spread_ = self.center_, self.spread_
        else:
            self.stable_center_, self.stable_spread_ = robust_location_scale(stabilise.apply(self.stabilise_, values))
        g = self._global(values)
        if self.transition_rows is None:
            state_r = regimes.fit(g, int(self.regimes))
        else:  # states entered rarely are states too: the rows just after entering one are held (module text)
            state_r = regimes.fit(g, int(self.regimes), min_share=TRANSITION_SHARE, min_visits=TRANSITION_VISITS)
        for name, array in state_r.items():
            setattr(self, f"regime_{name}_", array)
        settling = regimes.settling(state_r, g)
        effective = self._effective(n)
        self.windows_ = np.asarray(effective["windows"], dtype="int64")
        self.cusum_window_ = np.asarray(effective["cusum_window"], dtype="int64")
        self.discord_length_ = np.asarray(effective["discord_length"], dtype="int64")
        if n < FEW_ROWS:
            warnings.warn(_few_rows_message(n, n_channels, self.lags, self.small_sample), FewRowsWarning, stacklevel=3)
        z = self._prepare(values)
        windows = tuple(int(w) for w in self.windows_)
        length = int(self.discord_length_)
        tail = TAIL + (self.contamination or 0.0)
        zr = causal_median3(z) if self.despike else z
        noise = self._rounding_noise(stabilise.apply(self.stabilise_, values))
        forecast_noise, embedding_noise = (None, None) if noise is None else noise
        state, e = residual.fit_honest(zr, self.lags, REFERENCE_ROWS if self.small_sample else None, forecast_noise)
        raw: dict[str, np.ndarray] = {}
        skip = min(self.lags, n - 1)
        raw["residual"] = np.where(settling, np.nan, residual.score(state, e))[skip:]
        cusum = changepoint.fit(z, int(self.cusum_window_))
        self.changepoint_spread_ = cusum["spread"]
        raw["changepoint"] = np.where(settling, np.nan, changepoint.score(cusum, z, int(self.cusum_window_)))[skip:]
        for name, array in state.items():
            setattr(self, f"residual_{name}_", array)
        members = set(self.members)
        if "embedding" in members:
            emb = embedding.fit(z, windows, self.references, embedding_noise)
            raw["embedding"] = embedding.train_scores(emb, z, windows)
            if self.contamination:
                emb = _trim(emb, raw["embedding"], self.contamination)
                raw["embedding"] = embedding.train_scores(emb, z, windows)
        else:
            emb = {
                "center": np.zeros(0),
                "spread": np.ones(0),
                "reference": np.zeros((0, 0)),
                "index": np.zeros(0),
                "noise": np.zeros(0),
            }
        for name, array in emb.items():
            setattr(self, f"embedding_{name}_", array)
        if "discord" in members and length:
            dis = discord.fit(z, length, self.references)
            raw["discord"] = discord.train_scores(dis, z, length)
            if self.contamination:
                dis = _trim(dis, raw["discord"], self.contamination)
                raw["discord"] = discord.train_scores(dis, z, length)
        else:
            dis = {"reference": np.zeros((0, n_channels, discord.PAA), dtype="float32"), "index": np.zeros(0)}
        for name, array in dis.items():
            setattr(self, f"discord_{name}_", array)
        level = self.level if self.small_sample else None  # the small-sample corrections (module text)
        self.tails_ = np.vstack(
            [
                tail_fit(raw[m], self._tail_share(n, tail), level, REFERENCE_ROWS)
                if m in raw
                else np.array([0.0, 1.0, 1.0])
                for m in MEMBERS
            ]
        )
        if self.tail_visits is not None:  # rare events that recur in training are normal (module text)
            for i, m in enumerate(MEMBERS):
                if m in raw:
                    self.tails_[i] = excursion_widened(raw[m], self.tails_[i], int(self.tail_visits))

    def _tail_share(self, n_train: int, tail: float) -> float:
        """The training share a member's tail fit rests on: ``tail``, or with ``tail_exceedances`` a larger share of
        a short fit's ``n_train`` rows, for that many exceedances (at most half of them; module text)."""
        if self.tail_exceedances is None:
            return tail
        return float(min(max(tail, self.tail_exceedances / n_train), 0.5))

    # -- scoring ------------------------------------------------------------------------------------------
    def member_scores(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """Each member's surprise ``e`` (``-log10`` of the exceedance probability under its training tail fit)."""
        frame = self._validate_input(X)
        return pd.DataFrame(self._members(frame.to_numpy(dtype="float64", na_value=np.nan)), columns=self._scored())

    def _scored(self) -> list[str]:
        """The members this fit scores, in ``members`` order (the discord member sits out without subsequences)."""
        return [m for m in self.members if m in MEMBERS and (m != "discord" or int(self.discord_length_))]

    def _memory(self, names: list[str]) -> np.ndarray:
        """Rows before a row that each member's score of it reads (:mod:`~forewarn.models.anomaly.memo`); the
        forecast and change-point members also read the regimes of the rows a switch keeps settling."""
        memory = {
            "residual": max(residual.memory(self.lags), regimes.SETTLE),
            "changepoint": max(changepoint.memory(int(self.cusum_window_)), regimes.SETTLE),
            "embedding": embedding.memory(tuple(int(w) for w in self.windows_)),
            "discord": discord.memory(int(self.discord_length_)),
        }
        return np.array([memory[name] for name in names], dtype="int64")

    def memory_rows(self) -> int:
        """Rows before a row that its score reads, the most over the members this fit scores (their windows,
        lags and subsequences; not the settling, which reads ``settle_hours`` of time): how much context a run
        that starts later needs (the stream, ``detect --only-new``).

        >>> rng = np.random.default_rng(0)
        >>> fit = EnsembleDetector().fit(pd.DataFrame({"a": rng.normal(size=300)}))
        >>> fit.memory_rows() > 0
        True
        """
        found = self._memory(self._scored())
        return int(found.max()) if found.size else 0

    def _members(self, values: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Each scored member's surprise of every row (rows x :meth:`_scored`). With ``times`` (epoch units,
        increasing) inside a :func:`~forewarn.models.anomaly.memo.remembering` block, the rows whose scores the
        memo holds are not computed again (:mod:`~forewarn.models.anomaly.memo`)."""
        g = self._global(values)
        z = self._prepare(values, g)
        settling = regimes.settling(self._regime_state(), g)
        names = self._scored()
        memory = self._memory(names)
        out = np.full((len(z), len(names)), np.nan)
        todo = np.ones(out.shape, dtype=bool)
        kept = memo.current() if times is not None and not self.adaptation and not self.expand_references else None
        owner = (self, self.tails_, repr(sorted(self.get_params().items())))  # a refit makes new tails
        if kept is not None:
            known, usable = kept.known(owner, np.asarray(times), g, memory)
            out[usable] = known[usable]
            todo = ~usable
            if "discord" in names:  # a series' first rows hold no full subsequence: blank, nothing to compute
                at = names.index("discord")
                todo[: int(memory[at]) - 1, at] = False
        for j, name in enumerate(names):
            for lo, start, end in memo.spans(todo[:, j], int(memory[j])):
                raw = self._raw(name, z[lo:end], settling[lo:end], start - lo)[start - lo :]
                out[start:end, j] = tail_normalise(raw, self.tails_[MEMBERS.index(name)])
        if kept is not None:
            kept.keep(owner, np.asarray(times), g, out)
        if self.expand_references and "embedding" in names and len(self._regime_state()["centroids"]) == 1:
            at = names.index("embedding")
            stopped = self.transitions(values)  # no growth once the series has stopped or switched (expand.py)
            out[:, at] = self._expanded_embedding(z, dict(zip(names, out.T, strict=True)), stopped)
        return out

    def _raw(self, name: str, z: np.ndarray, settling: np.ndarray, first: int = 0) -> np.ndarray:
        """Member ``name``'s raw score of the prepared rows ``z`` (``settling``: the rows after a switch of regime,
        which the forecast and change-point members sit out); the costly members leave the rows before ``first``
        unscored (NaN)."""
        if name == "residual":
            state = {key: getattr(self, f"residual_{key}_") for key in residual.NAMES}
            e = residual.innovations(state, causal_median3(z) if self.despike else z)
            raw = np.where(settling, np.nan, residual.score(state, e))
            raw[: self.lags] = np.nan  # the first rows have no history to forecast from
            return raw
        if name == "changepoint":
            raw = changepoint.score({"spread": self.changepoint_spread_}, z, int(self.cusum_window_))
            return np.where(settling, np.nan, raw)
        if name == "embedding":
            emb = {key: getattr(self, f"embedding_{key}_") for key in EMBEDDING_STATE}
            return embedding.score(emb, z, tuple(int(w) for w in self.windows_), first)
        dis = {key: getattr(self, f"discord_{key}_") for key in ("reference", "index")}
        return discord.score(dis, z, int(self.discord_length_), first)

    def _expanded_embedding(
        self, z: np.ndarray, surprises: dict[str, np.ndarray], stopped: np.ndarray | None = None
    ) -> np.ndarray:
        """The embedding member's surprises with its references grown at doublings of the rows scored
        (``expand_references``, :func:`~forewarn.models.anomaly.expand.expanded`); the fit's training rows are
        its last reference's row + 1 (the references span the training rows)."""
        tail = self.tails_[MEMBERS.index("embedding")]
        others = [v for k, v in surprises.items() if k != "embedding"]
        with np.errstate(invalid="ignore"):
            hot = np.fmax.reduce(others) >= self.level if others else np.zeros(len(z), dtype=bool)
        raw = expand.expanded(
            {k: getattr(self, f"embedding_{k}_") for k in EMBEDDING_STATE},
            z,
            tuple(int(w) for w in self.windows_),
            int(self.embedding_index_[-1]) + 1,
            hot,
            int(self.references),
            lambda scores: tail_normalise(scores, tail),
            float(self.level),
            stopped,
        )
        return tail_normalise(raw, tail)

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        values = X.to_numpy(dtype="float64", na_value=np.nan)
        timed = isinstance(X.index, pd.DatetimeIndex) and X.index.is_monotonic_increasing
        members = self._members(values, X.index.asi8 if timed else None)
        stopped = None  # rows where the series did not keep running (transitions), for rebase and recurrence
        if self.rebase_rows is not None or self.recurrence is not None:
            stopped = self.transitions(values)
        if self.rebase_rows is not None:
            members = rebase(members, int(self.rebase_rows), interrupted=stopped)
        combined = combine(members)
        if self.settle_hours is not None and isinstance(X.index, pd.DatetimeIndex):
            combined = settle(combined, X.index, self.settle_hours, self.settle_factor, self.level)
        if self.recover is not None:
            combined = recover(combined, self.recover, self.level)
        if self.transition_rows is not None:
            combined = hold_after(combined, self.transitions(values), int(self.transition_rows))
        if self.recurrence is not None:  # rare events that recur in the series are normal (module text)
            carry = recurrence.current() if timed else None  # the stream, detect --only-new: the rows before
            if carry is not None:
                stamps = pd.DatetimeIndex(X.index).as_unit("ns").asi8
                capped = carry.cap(members, int(self.recurrence), stopped, stamps, self._scored())
            else:
                capped = recurrence.capped_members(members, int(self.recurrence), interrupted=stopped)
            combined = np.minimum(combined, combine(capped))
        return to_unit(combined, self.level)

    def transitions(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Whether each row is a *transition* (module text): a switch of operating regime, or a jump of at least
        :data:`JUMP_CHANNELS` channels (and :data:`JUMP_SHARE` of them) by more than :data:`JUMP` spreads."""
        values = X.to_numpy(dtype="float64", na_value=np.nan) if isinstance(X, pd.DataFrame) else X
        g = self._global(values)
        z = self._prepare(values, g)
        out = np.zeros(len(z), dtype=bool)
        if len(z) < 2:
            return out
        state = self._regime_state()
        if len(state["centroids"]) > 1:
            labels = regimes.assign(state, g)
            out[1:] = labels[1:] != labels[:-1]
        with np.errstate(invalid="ignore"):
            moved = (np.abs(np.diff(z, axis=0)) > JUMP).sum(axis=1)
        out[1:] |= (moved >= JUMP_CHANNELS) & (moved >= JUMP_SHARE * z.shape[1])
        return out

    def set_state(self, state: Mapping[str, np.ndarray | str]) -> EnsembleDetector:
        """Restore a fit (:meth:`get_state`); a fit saved before the rounding noise was learnt (no
        ``embedding_noise_``) restores with none, so it scores as it did."""
        if "embedding_noise_" not in state and "spread_" in state:
            state = {**state, "embedding_noise_": np.zeros(np.asarray(state["spread_"]).shape[0])}
        if "stabilise_" not in state and "spread_" in state:  # saved before ``stabilise``: no channel transformed
            state = {
                **state,
                "stabilise_": stabilise.identity(np.asarray(state["spread_"]).shape[0]),
                "stable_center_": state["center_"],
                "stable_spread_": state["spread_"],
            }
        super().set_state(state)
        return self

    def _state_names(self) -> tuple[str, ...]:
        names = [
            "center_",
            "spread_",
            "stabilise_",
            "stable_center_",
            "stable_spread_",
            "windows_",
            "cusum_window_",
            "discord_length_",
            "tails_",
            "changepoint_spread_",
        ]
        names += [f"residual_{name}_" for name in residual.NAMES]
        names += [f"regime_{name}_" for name in regimes.NAMES]
        names += [f"embedding_{name}_" for name in EMBEDDING_STATE]
        names += [f"discord_{name}_" for name in ("reference", "index")]
        return tuple(names)


def causal_median3(z: np.ndarray) -> np.ndarray:
    """Each value replaced by the median of itself and the two values before it in its column (the first rows:
    of those there are). A single-row glitch of one sensor vanishes; a lasting change passes one row later.

    >>> causal_median3(np.array([[0.0], [0.0], [9.0], [0.0], [0.0], [5.0], [5.0], [5.0]])).ravel().tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0, 5.0]
    """
    if len(z) < 3:
        return z
    before = np.vstack([z[:1], z[:-1]])
    earlier = np.vstack([z[:2], z[:-2]])
    # the median of three without sorting: max(min(a, b), min(max(a, b), c)); NaN where any of them is NaN
    low = np.minimum(earlier, before)
    high = np.maximum(earlier, before, out=earlier)
    out: np.ndarray = np.maximum(low, np.minimum(high, z, out=high), out=low)
    return out


def combine(normalised: np.ndarray) -> np.ndarray:
    """The ensemble value of each row: the largest member's surprise, plus ``TIEBREAK`` times the members' mean
    (members whose raw score often sits at one value, as a CUSUM at 0 does, would otherwise pile many rows on
    one value). Members without a score yet (NaN while their first window fills) are left out; a row none can
    score yet gets 0.

    >>> [round(v, 3) for v in combine(np.array([[0.5, np.nan], [0.2, 3.0], [np.nan, np.nan]])).tolist()]
    [0.505, 3.016, 0.0]
    """
    if normalised.shape[1] == 0:
        return np.zeros(len(normalised))
    top = np.full(len(normalised), -np.inf)
    total = np.zeros(len(normalised))
    count = np.zeros(len(normalised))
    for column in normalised.T:
        top = np.fmax(top, column)
        seen = np.isfinite(column)
        total += np.where(seen, column, 0.0)
        count += seen
    out = top + TIEBREAK * total / np.maximum(count, 1)
    return np.where(np.isfinite(out), out, 0.0)


def to_unit(combined: np.ndarray, level: float) -> np.ndarray:
    """The map from the ensemble's normalised score to (0, 1): 0.5 at ``level`` (module text).

    >>> [round(float(v), 3) for v in to_unit(np.array([0.0, 2.0, 10.0]), 2.0)]
    [0.013, 0.5, 0.991]
    """
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-SLOPE * (np.arcsinh(combined) - np.arcsinh(level))))


def _trim(state: dict[str, np.ndarray], scores: np.ndarray, tail: float) -> dict[str, np.ndarray]:
    """Drop the references whose own training score lies in the top ``tail`` share (kept if too few remain)."""
    at = scores[state["index"]]
    limit = np.nanquantile(scores, 1.0 - tail) if np.isfinite(scores).any() else np.inf
    keep = ~(at > limit)
    if keep.sum() < max(8, len(keep) // 2):
        return state
    return {**state, "reference": state["reference"][keep], "index": state["index"][keep]}


def _few_rows_message(n: int, n_channels: int, lags: int, corrected: bool = True) -> str:
    levels = (
        "so they are widened for so few (small faults may go unseen)"
        if corrected
        else "so expect more false alarms (the small-sample corrections are off)"
    )
    parts = [
        f"the ensemble detector was fitted on only {n} rows: it cannot know normal behaviour slower than "
        f"about {n // 2} rows (cycles, seasonality, slow trends, set points it has not visited may raise alarms), "
        f"and its alarm levels rest on about {n} training scores, {levels}; refit it on a longer normal stretch "
        "when there is one"
    ]
    if n < residual.needed_rows(lags, n_channels):
        parts.append(
            f"with fewer than {residual.needed_rows(lags, n_channels)} rows the forecast is persistence only "
            "(relations between channels are not learned)"
        )
    if n < 4 * discord.PAA:
        parts.append(f"with fewer than {4 * discord.PAA} rows the discord (shape) member is off")
    return "; ".join(parts)


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in ("timestamp", "ts", "asset_id") if c in frame.columns]).select_dtypes(
        include="number"
    )


def score_frame(frame: pd.DataFrame, n_train: int | None = None, **params: Any) -> np.ndarray:
    """``anomaly_score`` of every row of one asset's series (``timestamp`` and other non-numeric columns are
    dropped): fit on the first ``n_train`` rows (default: the first 15 %, at least 10), score them all."""
    values = _numeric(frame)
    n = len(values)
    if n_train is None:
        n_train = max(10, int(TRAIN_FRACTION * n))
    n_train = min(n_train, n)
    detector = EnsembleDetector(**params)
    detector.fit(values.iloc[:n_train])
    if "timestamp" in frame.columns:  # the rows' times, for settling (module text)
        values = values.set_axis(pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True)))
    return detector.score(values)


def _member_frame(member: str) -> Any:
    def score(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
        return score_frame(frame, n_train, members=(member,))

    score.__name__ = f"score_{member}"
    return score


#: one member alone, for the benchmark (``--detector forewarn.models.anomaly.ensemble:score_residual``)
score_residual = _member_frame("residual")
score_embedding = _member_frame("embedding")
score_changepoint = _member_frame("changepoint")
score_discord = _member_frame("discord")
