namespace Persona.Tools.BuildDefaultSource;

/// <summary>
/// Hot-deck donor imputation for the California and Texas records, which only carry the 12 narrow
/// columns. A donor is a wide-state person drawn with probability proportional to PWGTP from the
/// first non-empty cell of a cascade that starts strict and in similar states and relaxes step by
/// step. Every level keeps group quarters vs household and an age band whose edges fall on the
/// PUMS universe boundaries (3, 5, 15, 16, 17, 18, 51), so a donor never brings fields that are out
/// of universe for the recipient's age.
/// </summary>
internal sealed class Donors
{
    // Level 0: similar states, full key. 1: all wide states, full key. 2: coarse age, otherwise full.
    // 3: coarse age, race/Hispanic/citizenship collapsed. 4: coarse age, sex, education group,
    // native/foreign born and disability (kept through level 4 so the difficulty items agree with DIS).
    // 5: coarse age, sex, education group (used once in the 2024 build). 6: coarse age only (never needed so far).
    public const int Levels = 7;

    readonly List<Person> _people;
    readonly Dictionary<string, Dictionary<Key, Cell>> _similar = new(StringComparer.Ordinal);
    readonly Dictionary<Key, Cell>[] _all = new Dictionary<Key, Cell>[Levels];

    public Donors(List<Person> people, Dictionary<string, string[]> similarStates)
    {
        _people = people;
        for (int l = 1; l < Levels; l++) _all[l] = [];
        foreach (var (state, list) in similarStates)
        {
            var set = new HashSet<string>(list, StringComparer.Ordinal);
            var cells = new Dictionary<Key, Cell>();
            for (int i = 0; i < people.Count; i++)
                if (!people[i].Narrow && set.Contains(people[i].State)) Add(cells, KeyOf(people[i], 0), i, people[i].Weight);
            _similar[state] = cells;
        }
        for (int i = 0; i < people.Count; i++)
        {
            if (people[i].Narrow) continue;
            for (int l = 1; l < Levels; l++) Add(_all[l], KeyOf(people[i], l), i, people[i].Weight);
        }
    }

    public (int Donor, int Level) Pick(Person recipient, Random rng)
    {
        for (int l = 0; l < Levels; l++)
        {
            var cells = l == 0 ? _similar[recipient.State] : _all[l];
            if (cells.TryGetValue(KeyOf(recipient, l), out var cell)) return (cell.Draw(rng), l);
        }
        throw new Persona.PersonaException(
            $"No donor for {recipient.State}/{recipient.Serial}/{recipient.Sporder} (age {recipient.Age}) even at the coarsest level.");
    }

    static void Add(Dictionary<Key, Cell> cells, Key k, int index, long weight)
    {
        if (!cells.TryGetValue(k, out var c)) cells[k] = c = new Cell();
        c.Add(index, weight);
    }

    readonly record struct Key(int Age, int Sex, int Race, int Hisp, int Schl, int Cit, int Dis, bool Gq);

    static Key KeyOf(Person p, int level)
    {
        int schl = Margins.SchlGroup(p.Schl);
        return level switch
        {
            0 or 1 => new Key(FineAge(p.Age), p.Sex, p.Race, p.Hisp, schl, p.Cit, p.Dis, p.GroupQuarters),
            2 => new Key(CoarseAge(p.Age), p.Sex, p.Race, Margins.HispGroup(p.Hisp), schl, p.Cit, p.Dis, p.GroupQuarters),
            3 => new Key(CoarseAge(p.Age), p.Sex, RaceGroup(p.Race), p.Hisp == 1 ? 0 : 1, schl, p.Cit <= 3 ? 0 : 1, p.Dis, p.GroupQuarters),
            4 => new Key(CoarseAge(p.Age), p.Sex, 0, 0, schl, p.Cit <= 3 ? 0 : 1, p.Dis, p.GroupQuarters),
            5 => new Key(CoarseAge(p.Age), p.Sex, 0, 0, schl, 0, 0, p.GroupQuarters),
            _ => new Key(CoarseAge(p.Age), 0, 0, 0, 0, 0, 0, p.GroupQuarters),
        };
    }

    /// <summary>Single years under 25 (school, work and fertility universes all change there), 5-year bands after, 50 alone (FER stops at 50).</summary>
    static int FineAge(int age) => age switch
    {
        < 25 => age,
        < 50 => 100 + age / 5,
        50 => 150,
        < 55 => 151,
        < 85 => 100 + age / 5,
        _ => 185,
    };

    static int CoarseAge(int age) => age switch
    {
        0 => 0, <= 2 => 1, <= 4 => 2, <= 14 => 3, 15 => 4, 16 => 5, 17 => 6, <= 24 => 7,
        <= 34 => 8, <= 44 => 9, <= 50 => 10, <= 64 => 11, <= 74 => 12, _ => 13,
    };

    static int RaceGroup(int race) => race switch { 1 => 1, 2 => 2, 6 => 6, _ => 9 };

    /// <summary>
    /// The wide states whose populations look most like <paramref name="state"/> on what both
    /// have: total variation distance between weighted distributions of coarse age x race x
    /// Hispanic group x education group x citizenship. Ties broken by state code.
    /// </summary>
    public static string[] MostSimilarStates(List<Person> people, string state, int count)
    {
        string Cat(Person p) => $"{CoarseAge(p.Age)}|{p.Race}|{Margins.HispGroup(p.Hisp)}|{Margins.SchlGroup(p.Schl)}|{p.Cit}";
        var byState = people.GroupBy(p => p.State, StringComparer.Ordinal).ToDictionary(
            g => g.Key,
            g =>
            {
                double total = g.Sum(p => (double)p.Weight);
                return g.GroupBy(Cat).ToDictionary(c => c.Key, c => c.Sum(p => (double)p.Weight) / total);
            }, StringComparer.Ordinal);
        var target = byState[state];
        var wideStates = people.Where(p => !p.Narrow).Select(p => p.State).Distinct();
        return wideStates
            .Select(s => (State: s, Tvd: 0.5 * target.Keys.Union(byState[s].Keys).Sum(k => Math.Abs(target.GetValueOrDefault(k) - byState[s].GetValueOrDefault(k)))))
            .OrderBy(x => x.Tvd).ThenBy(x => x.State, StringComparer.Ordinal)
            .Take(count).Select(x => x.State).ToArray();
    }

    sealed class Cell
    {
        readonly List<int> _index = [];
        readonly List<double> _cum = [];

        public void Add(int index, long weight)
        {
            _index.Add(index);
            _cum.Add((_cum.Count == 0 ? 0 : _cum[^1]) + weight);
        }

        public int Draw(Random rng)
        {
            double u = rng.NextDouble() * _cum[^1];
            int k = _cum.BinarySearch(u);
            k = k < 0 ? ~k : k + 1;
            return _index[Math.Min(k, _index.Count - 1)];
        }
    }
}
