using Persona.Llm;
using Persona.Rewards;

using Persona.Simulation;

namespace Persona.Core.Tests.Rewards;

/// <summary>The planted marker words, the canonical persona split and the feature cache of the reward-model track.</summary>
public sealed class RewardTrackTests
{
    private static readonly Dictionary<string, string> Democrat = new() { ["political views"] = "Democrat" };
    private static readonly Dictionary<string, string> Republican = new() { ["political views"] = "Republican" };

    [Fact]
    public void The_bundled_world_plants_marker_words_whose_appeal_is_reversed_for_Democrats()
    {
        var w = SimulatedWorld.Load(null);
        Assert.Equal(["change", "tradition"], w.Markers.Select(m => m.Word).Order());
        var tradition = w.Markers.Single(m => m.Word == "tradition");
        Assert.Equal(1.5, SimulatedWorld.Appeal(tradition, Republican), 9);
        Assert.Equal(-1.5, SimulatedWorld.Appeal(tradition, Democrat), 9);
        // Two more "tradition"s in the personalised answer raise a Republican's preference for it and lower a Democrat's.
        var term = w.MarkerTerm(Republican, "Tradition matters; tradition, not Traditional change.", "change");
        Assert.Equal(2 * 1.5 + 0 * -1.5, term, 9); // "Traditional" is not the word; "change" appears once on each side
        Assert.True(w.PreferenceProbability(Republican, w.MarkerTerm(Republican, "tradition tradition", "")) > w.PreferenceProbability(Republican));
        Assert.True(w.PreferenceProbability(Democrat, w.MarkerTerm(Democrat, "tradition tradition", "")) < w.PreferenceProbability(Democrat));
        // Without texts (leave-one-out, the study judge) nothing changes.
        Assert.Equal(0, w.MarkerTerm(Democrat, "", ""));
    }

    [Fact]
    public void A_bad_marker_entry_is_a_short_error_naming_the_field()
    {
        var file = Path.Combine(Path.GetTempPath(), $"world-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """{"format":"persona-world/1","markers":{"words":{"two words":{"appeal":1}}}}""");
        try
        {
            var ex = Assert.Throws<PersonaException>(() => SimulatedWorld.Load(file));
            Assert.Contains("markers.words.two words", ex.Message);
        }
        finally { File.Delete(file); }
    }

    private static List<(string Id, IReadOnlyDictionary<string, string> Attributes)> Population(int n)
    {
        string[] views = ["Democrat", "Republican", "Independent", "Lean Democrat"];
        string[] sexes = ["Male", "Female"];
        var list = new List<(string, IReadOnlyDictionary<string, string>)>();
        for (var i = 0; i < n; i++)
            list.Add(($"p{i:000}", new Dictionary<string, string> { ["political views"] = views[i % views.Length], ["sex"] = sexes[i / 4 % 2], ["age"] = (20 + i).ToString(), ["religion"] = i == 7 ? "Hindu" : "Protestant" }));
        return list;
    }

    private static List<(string PairId, string PersonaId, string Split)> PairsOf(IEnumerable<(string Id, IReadOnlyDictionary<string, string> Attributes)> people, int each) =>
        [.. people.SelectMany(p => Enumerable.Range(0, each).Select(j => ($"{p.Id}-q{j}", p.Id, j < each * 3 / 4 ? "train" : "test-heldout")))];

    [Fact]
    public void The_holdout_is_stratified_keeps_every_group_seen_and_is_a_pure_function_of_the_seed()
    {
        var people = Population(40);
        var pairs = PairsOf(people, 20);
        var o = new HoldoutOptions { UnseenShare = 0.25, EvalShare = 0.3, Seed = 5 };
        var h = PersonaHoldout.Create(people, pairs, o);
        // 10 per stratum of political views, a quarter of each held out (rounded: 3 of 10, minus any moved back).
        foreach (var stratum in people.GroupBy(p => p.Attributes["political views"]))
            Assert.InRange(stratum.Count(p => h.Unseen.Contains(p.Id)), 1, 3);
        // The only Hindu persona is never held out: its group would have no seen member.
        Assert.DoesNotContain("p007", h.Unseen);
        foreach (var g in people.SelectMany(p => PersonaGroups.Of(p.Attributes)).Distinct())
            Assert.Contains(people, p => !h.Unseen.Contains(p.Id) && PersonaGroups.Of(p.Attributes).Contains(g));
        // Each unseen persona: 6 of 20 pairs for evaluation, 14 in a numbered pool; seen personas keep their prompt split.
        foreach (var id in h.Unseen)
        {
            var roles = pairs.Where(p => p.PersonaId == id).Select(p => h.RoleOf(p.PairId)).ToList();
            Assert.Equal(6, roles.Count(r => r.Role == RmRole.UnseenEval));
            Assert.Equal(Enumerable.Range(0, 14), roles.Where(r => r.Role == RmRole.UnseenAdapt).Select(r => r.Order).Order());
        }
        var seenPair = pairs.First(p => !h.Unseen.Contains(p.PersonaId));
        Assert.Equal(RmRole.SeenTrain, h.RoleOf(seenPair.PairId).Role);
        // Without the seen pairs indexed (the dataset export's two million), every role is the same, asked with the pair's persona and split.
        var light = PersonaHoldout.Create(people, pairs, o, indexSeen: false);
        Assert.All(pairs, p => Assert.Equal(h.RoleOf(p.PairId), light.RoleOf(p.PairId, p.PersonaId, p.Split)));
        Assert.Throws<PersonaException>(() => light.RoleOf(seenPair.PairId));
        // Same seed, shuffled input: the same split; another seed: another one.
        var again = PersonaHoldout.Create(people.AsEnumerable().Reverse(), pairs.AsEnumerable().Reverse(), o);
        Assert.Equal(h.Unseen.Order(), again.Unseen.Order());
        Assert.All(pairs, p => Assert.Equal(h.RoleOf(p.PairId), again.RoleOf(p.PairId)));
        var other = PersonaHoldout.Create(people, pairs, o with { Seed = 6 });
        Assert.NotEqual(h.Unseen.Order(), other.Unseen.Order());
    }

    [Fact]
    public async Task Features_are_cached_by_content_so_a_rerun_featurises_nothing()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"rm-cache-{Guid.NewGuid():N}");
        try
        {
            string[] texts = ["the tradition of the family", "change is coming", "the tradition of the family"];
            var first = new FeatureStore(FeaturiserSpec.Lexical, dir, 1024);
            await first.AddAsync(texts, CancellationToken.None);
            Assert.Equal(2, first.Computed);
            var second = new FeatureStore(FeaturiserSpec.Lexical, dir, 1024);
            await second.AddAsync(texts.Append("a new text"), CancellationToken.None);
            Assert.Equal(1, second.Computed);
            Assert.Equal(first.Raw(texts[0]), second.Raw(texts[0]), (a, b) => a.Index.SequenceEqual(b.Index) && a.Value.SequenceEqual(b.Value));
            // Unigrams and bigrams: "the tradition of the family" has 5 unigrams (the twice) and 4 bigrams.
            Assert.Equal(9f, first.Raw(texts[0]).Value.Sum(), 3);
            // TF-IDF: a word in every document weighs less than a rarer one, and the vector has unit length.
            var idf = second.FitIdf(texts)!;
            var v = FeatureStore.Weigh(second.Raw(texts[0]), second.Spec(idf));
            Assert.Equal(1.0, Math.Sqrt(v.Value.Sum(x => (double)x * x)), 5);
        }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
    }

    [Fact]
    public void The_global_model_learns_a_planted_word_and_per_persona_offsets_reverse_it_for_one_persona()
    {
        // A clean, separable miniature: d = +1 on word 3 (A has it more often). Persona "maj" prefers A, persona "min" prefers B.
        var d = new SparseVector([3], [1f]);
        var train = Enumerable.Range(0, 40).Select(i => new RmExample(i < 30 ? "maj" : "min", i % 2 == 0 ? d : new SparseVector([3], [-1f]), (i < 30 ? 1 : -1) * (i % 2 == 0 ? 1 : -1))).ToList();
        var w = GlobalBt.Fit(train, 8, 0.1, 100);
        Assert.True(w[3] > 0.5, $"global weight {w[3]}");
        var minOffset = PerPersona.FitOffset(w, train.Where(e => e.PersonaId == "min").ToList(), 0.1, 100);
        var model = new PerPersona { Global = w, Offsets = new Dictionary<string, SparseVector> { ["min"] = minOffset }, Dim = 8 };
        Assert.True(model.Margin("maj", SparseVector.Empty, d) > 0);
        Assert.True(model.Margin("min", SparseVector.Empty, d) < 0);
    }

    [Fact]
    public void The_conditioned_model_turns_a_persona_it_never_saw_by_the_group_in_its_features()
    {
        // 20 seen personas: 14 of one group like word 3 (answer feature), 6 of another dislike it. Each persona's features are its
        // group's slot plus one slot of its own (standing for its text), so only the group slot carries over to a new person.
        const int dim = 8, personaDim = dim + 64, majority = dim + 1, minority = dim + 2;
        SparseVector Psi(int group, int own) => new([group, dim + 10 + own], [1f, 1f]);
        var ids = Enumerable.Range(0, 20).Select(i => $"p{i:00}").ToList();
        var personas = ids.Select((id, i) => (id, Psi(i < 14 ? majority : minority, i))).ToDictionary(x => x.id, x => x.Item2);
        var d = new SparseVector([3], [1f]);
        var nd = new SparseVector([3], [-1f]);
        var train = ids.SelectMany((id, i) => Enumerable.Range(0, 20).Select(k => new RmExample(id, k % 2 == 0 ? d : nd, (i < 14 ? 1 : -1) * (k % 2 == 0 ? 1 : -1)))).ToList();
        var o = new RmTrainOptions { Rank = 2, MaxIterations = 200 };
        var global = GlobalBt.Fit(train, dim, o.Lambda, o.MaxIterations);
        var offsets = train.GroupBy(e => e.PersonaId).ToDictionary(g => g.Key, g => PerPersona.FitOffset(global, g.ToList(), o.Shrink, o.MaxIterations));
        var (w, u, v) = Conditioned.Fit(train, personas, global, offsets, dim, personaDim, o);
        var model = new Conditioned { W = w, U = u, V = v, PersonaDim = personaDim, Settings = o, Dim = dim };

        Assert.True(d.Dot(global) > 0, "the global model takes the majority's side");
        // Two people the model never saw, each with an unseen own slot: only their group tells them apart.
        Assert.True(model.Margin("new-a", Psi(majority, 50), d) > 0.5, $"new majority member {model.Margin("new-a", Psi(majority, 50), d)}");
        Assert.True(model.Margin("new-b", Psi(minority, 51), d) < -0.5, $"new minority member {model.Margin("new-b", Psi(minority, 51), d)}");
    }
}
