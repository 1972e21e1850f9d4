using Persona.Prompts;

namespace Persona.Core.Tests.Prompts;

public class PromptLoaderTests : IDisposable
{
    private readonly string _dir = TempDir.Create();
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string content)
    {
        var p = Path.Combine(_dir, name);
        File.WriteAllText(p, content);
        return p;
    }

    [Fact]
    public void Bundled_prism_has_all_8011_prompts_with_stable_ids()
    {
        var prompts = PromptLoader.LoadBundledPrism();
        Assert.Equal(8011, prompts.Count);
        Assert.Equal("prism-00001", prompts[0].Id);
        Assert.Equal("What can you do about the inequality  of wealth?", prompts[0].Text);
        Assert.Equal(2, prompts[0].Line);
        Assert.Equal("prism-08011", prompts[^1].Id);
        Assert.Equal(prompts.Count, prompts.Select(p => p.Id).Distinct().Count());
    }

    [Fact]
    public void Json_array_of_strings_and_objects()
    {
        var p = Write("a.json", "[\n  \"Is it fair?\",\n  {\"id\": \"x7\", \"text\": \"Why?\"},\n  {\"text\": \"How?\"}\n]");
        var prompts = PromptLoader.Load(p);
        Assert.Equal(["p-00001", "x7", "p-00003"], prompts.Select(x => x.Id));
        Assert.Equal(["Is it fair?", "Why?", "How?"], prompts.Select(x => x.Text));
        Assert.Equal([2, 3, 4], prompts.Select(x => x.Line));
    }

    [Fact]
    public void Json_with_bom_loads()
    {
        var p = Path.Combine(_dir, "bom.json");
        File.WriteAllText(p, "[\"Is it fair?\"]", new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        Assert.Single(PromptLoader.Load(p));
    }

    [Fact]
    public void Json_element_without_text_names_line_and_field()
    {
        var p = Write("b.json", "[\n  \"ok?\",\n\n  {\"id\": \"q\", \"body\": \"Why?\"}\n]");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("b.json:4", e.Message);
        Assert.Contains("'text'", e.Message);
    }

    [Fact]
    public void Json_element_of_wrong_type_names_line()
    {
        var p = Write("c.json", "[\n\"ok?\",\n42\n]");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("c.json:3", e.Message);
    }

    [Fact]
    public void Json_text_of_wrong_type_names_field()
    {
        var p = Write("c2.json", "[{\"text\": 5}]");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("c2.json:1", e.Message);
        Assert.Contains("field 'text' is Number", e.Message);
    }

    [Fact]
    public void Malformed_json_names_line()
    {
        var p = Write("d.json", "[\n\"a?\",\n\"b?\"\n\"c?\"\n]");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("d.json:4", e.Message);
        Assert.Contains("malformed JSON", e.Message);
    }

    [Fact]
    public void Json_not_an_array_is_rejected()
    {
        var p = Write("e.json", "{\"text\": \"a?\"}");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("expected a JSON array", e.Message);
    }

    [Fact]
    public void Jsonl_with_and_without_ids_skipping_blank_lines()
    {
        var p = Write("a.jsonl", "{\"id\": \"one\", \"text\": \"Is it fair?\"}\n\n{\"text\": \"Why?\"}\n{\"id\": 17, \"text\": \"How?\"}\n");
        var prompts = PromptLoader.Load(p);
        Assert.Equal(["one", "p-00002", "17"], prompts.Select(x => x.Id));
        Assert.Equal([1, 3, 4], prompts.Select(x => x.Line));
    }

    [Fact]
    public void Jsonl_missing_text_names_line_and_field()
    {
        var p = Write("b.jsonl", "{\"text\": \"ok?\"}\n{\"text\": \"ok?\"}\n{\"prompt\": \"Why?\"}\n");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("b.jsonl:3", e.Message);
        Assert.Contains("'text'", e.Message);
    }

    [Fact]
    public void Jsonl_malformed_line_names_line()
    {
        var p = Write("c.jsonl", "{\"text\": \"ok?\"}\n{\"text\": \"broken?\"\n");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("c.jsonl:2", e.Message);
    }

    [Fact]
    public void Jsonl_non_object_line_is_rejected()
    {
        var p = Write("d.jsonl", "\"just a string?\"\n");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("d.jsonl:1", e.Message);
    }

    [Fact]
    public void Duplicate_ids_name_both_lines()
    {
        var p = Write("e.jsonl", "{\"id\": \"a\", \"text\": \"x?\"}\n{\"id\": \"b\", \"text\": \"y?\"}\n{\"id\": \"a\", \"text\": \"z?\"}\n");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("e.jsonl:3", e.Message);
        Assert.Contains("line 1", e.Message);
    }

    [Fact]
    public void Csv_with_text_column_quotes_and_multiline_fields()
    {
        var p = Write("a.csv", "id,text,lang\nq1,\"Is it fair, really?\",en\nq2,\"Line one\nline two?\",en\nq3,Why?,en\n");
        var prompts = PromptLoader.Load(p);
        Assert.Equal(["q1", "q2", "q3"], prompts.Select(x => x.Id));
        Assert.Equal("Is it fair, really?", prompts[0].Text);
        Assert.Equal("Line one\nline two?", prompts[1].Text);
        Assert.Equal([2, 3, 5], prompts.Select(x => x.Line));
    }

    [Fact]
    public void Csv_without_id_column_gets_positional_ids()
    {
        var p = Write("b.csv", "text\nIs it fair?\nWhy?\n");
        Assert.Equal(["p-00001", "p-00002"], PromptLoader.Load(p).Select(x => x.Id));
    }

    [Fact]
    public void Csv_without_text_column_is_rejected()
    {
        var p = Write("c.csv", "id,prompt\n1,Why?\n");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("c.csv:1", e.Message);
        Assert.Contains("'text' column", e.Message);
    }

    [Fact]
    public void Csv_row_with_missing_columns_names_line()
    {
        var p = Write("d.csv", "id,text\nq1,Why?\nq2\n");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("d.csv", e.Message);
        Assert.Contains("3", e.Message);
    }

    [Fact]
    public void Csv_empty_id_names_line_and_field()
    {
        var p = Write("e.csv", "id,text\nq1,Why?\n,How?\n");
        var e = Assert.Throws<PersonaException>(() => PromptLoader.Load(p));
        Assert.Contains("e.csv:3", e.Message);
        Assert.Contains("'id'", e.Message);
    }

    [Fact]
    public void Unsupported_extension_and_missing_file()
    {
        Assert.Contains("unsupported extension", Assert.Throws<PersonaException>(() => PromptLoader.Load(Write("a.txt", "Why?"))).Message);
        Assert.Contains("does not exist", Assert.Throws<PersonaException>(() => PromptLoader.Load(Path.Combine(_dir, "nope.jsonl"))).Message);
    }
}
