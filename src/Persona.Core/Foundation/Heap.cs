namespace Persona;

/// <summary>Hands the heap's garbage back to the system between phases of work.</summary>
public static class Heap
{
    /// <summary>
    /// One full, compacting collection that returns free memory to the system. A phase's transient garbage (the census
    /// pool's redraw, a parquet writer's longest column, a stage's samples) otherwise stays committed for the rest of the
    /// process: at 30,000 personas the population build held 330 MB committed for 90 MB live after its draws, and a
    /// `persona run` carried each stage's high-water mark into the next. It costs well under a second.
    /// </summary>
    public static void Release() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
}
